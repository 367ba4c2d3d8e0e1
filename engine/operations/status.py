"""Each stream's backlog and lag per consumer group: what the API's pipeline status (the Pipelines page) and
`xeno status` show about the streams (dead letters and the newest feature snapshot come from their own engine
modules).

A stream's lag is the age of its oldest entry: acknowledged entries are deleted (`engine.streams`), so the
oldest one left is the oldest piece of work not yet done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from engine import streams
from engine.ai import queue as ai_queue
from engine.campaigns import queue as delivery_queue
from engine.campaigns import receipts
from engine.ingest import consumer
from engine.settings import Settings

# (stream name, consumer group): every stream of the product, in the order data flows through them.
STREAMS = (
    ("ingest", consumer.GROUP),
    (delivery_queue.STREAM, delivery_queue.GROUP),
    (receipts.STREAM, receipts.GROUP),
    (ai_queue.STREAM, ai_queue.GROUP),
)


@dataclass(frozen=True)
class StreamState:
    """One Redis stream and its consumer group: entries no consumer has taken yet, entries taken but not yet done,
    and the oldest entry left and its age (its lag; null when the stream is empty)."""

    name: str
    group: str
    undelivered: int
    pending: int
    oldest_entry_at: datetime | None
    lag_seconds: float | None


def stream_states(client: redis.Redis, settings: Settings, now: datetime) -> list[StreamState]:
    return [_stream_state(client, settings.stream(name), name, group, now) for name, group in STREAMS]


def _stream_state(client: redis.Redis, key: str, name: str, group: str, now: datetime) -> StreamState:
    backlog = streams.backlog(client, key, group)
    oldest: Any = client.xrange(key, count=1)
    oldest_at = None
    if oldest:
        milliseconds = int(streams.entry_id_text(oldest[0][0]).split("-", 1)[0])
        oldest_at = datetime.fromtimestamp(milliseconds / 1000, UTC)
    lag = max((now - oldest_at).total_seconds(), 0.0) if oldest_at else None
    return StreamState(name, group, backlog.undelivered, backlog.pending, oldest_at, lag)
