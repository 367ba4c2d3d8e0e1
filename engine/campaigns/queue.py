"""The delivery stream: what one entry carries, and the two ways messages get onto it.

One entry holds up to `delivery_batch_size` messages of one campaign (`[log id, idempotency key, address,
body, subject, customer id, html]` each), so a sender hands an entry to its channel's transport as one batch. A
launch publishes its queued rows in log-id order and records how far it got (`campaigns.published_through`),
so a launch that died half-way resumes after the last entry it published. Messages that waited (quiet hours,
a pause) are released by `queue_due_messages`, which puts them on the stream before it commits their `queued` status.

Publishing an entry twice (a crash between XADD and the commit that records it) is harmless: senders
post each message with its idempotency key, so the vendor sends it once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

import redis
from sqlalchemy import Engine, text

from engine import streams
from engine.settings import Settings

STREAM = "delivery"
GROUP = "senders"
PIPELINE_ENTRIES = 20  # entries per Redis round trip, and between records of launch progress

Message = tuple[int, str, str, str, str | None, int | None, str | None]
"""log id, idempotency key, address, body, subject, customer id, html (`engine.channels.base.Outgoing`)"""


@dataclass(frozen=True)
class DeliveryEntry:
    """The messages of one stream entry."""

    campaign_id: int
    channel: str
    messages: list[Message]

    def payload(self) -> dict[str, Any]:
        return {"campaign_id": self.campaign_id, "channel": self.channel, "messages": self.messages}

    @classmethod
    def from_payload(cls, payload: Any) -> DeliveryEntry:
        """The entry a payload describes; `ValueError` when it is not one."""
        try:
            messages = [
                (int(m[0]), str(m[1]), str(m[2]), str(m[3]), m[4], _customer(m), _html(m)) for m in payload["messages"]
            ]
            return cls(int(payload["campaign_id"]), str(payload["channel"]), messages)
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise ValueError(f"not a delivery entry: {error!r}") from None


def _customer(message: list[Any]) -> int | None:
    """The customer id of a message; None in entries published before messages carried it."""
    return int(message[5]) if len(message) > 5 and message[5] is not None else None


def _html(message: list[Any]) -> str | None:
    """The rendered HTML of a message; None when it has none (made from the text) or was published before."""
    return str(message[6]) if len(message) > 6 and message[6] is not None else None


def idempotency_key_prefix(settings: Settings, campaign_id: int) -> str:
    """What a recipient's idempotency key starts with; their customer id follows. Stable per recipient of a
    campaign (and per installation), so every retry of their message reuses it."""
    return f"{settings.redis_prefix}-{campaign_id}-"


def _entries(campaign_id: int, channel: str, rows: Iterable[Message], size: int) -> Iterable[DeliveryEntry]:
    batch: list[Message] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield DeliveryEntry(campaign_id, channel, batch)
            batch = []
    if batch:
        yield DeliveryEntry(campaign_id, channel, batch)


def _xadd_all(client: redis.Redis, stream: str, entries: Sequence[DeliveryEntry]) -> None:
    with client.pipeline(transaction=False) as pipe:
        for entry in entries:
            pipe.xadd(stream, streams.entry_fields(entry.payload()))  # type: ignore[arg-type]
        pipe.execute()


@dataclass(frozen=True)
class Published:
    entries: int
    messages: int


QUEUED_ROWS = """
SELECT id, idempotency_key, address, message, subject, customer_id, html FROM communication_log
WHERE campaign_id = :campaign AND status = 'queued' AND id > :after ORDER BY id
"""


def publish_queued(
    db: Engine, client: redis.Redis, settings: Settings, campaign_id: int, messages: Iterable[Message] | None = None
) -> Published:
    """Put the campaign's queued messages not yet published on the delivery stream, resuming a past attempt.

    `messages`, the queued messages in log-id order, saves reading them back when the caller has them
    (the launch that has just written them); by default they are read from the log.
    """
    stream = settings.stream(STREAM)
    with db.connect() as conn:
        channel, after = conn.execute(
            text("SELECT channel, published_through FROM campaigns WHERE id = :id"), {"id": campaign_id}
        ).one()
        if messages is None:
            rows = conn.execution_options(
                stream_results=True, yield_per=settings.delivery_batch_size * PIPELINE_ENTRIES
            )
            result = rows.execute(text(QUEUED_ROWS), {"campaign": campaign_id, "after": after})
            unpublished: Iterable[Message] = (tuple(row) for row in result)
        else:
            unpublished = (message for message in messages if message[0] > after)
        entries = 0
        count = 0
        pending: list[DeliveryEntry] = []
        for entry in _entries(campaign_id, channel, unpublished, settings.delivery_batch_size):
            pending.append(entry)
            if len(pending) == PIPELINE_ENTRIES:
                count += _publish_and_record(db, client, stream, pending)
                entries += len(pending)
                pending = []
        if pending:
            count += _publish_and_record(db, client, stream, pending)
            entries += len(pending)
    return Published(entries, count)


def _publish_and_record(db: Engine, client: redis.Redis, stream: str, entries: Sequence[DeliveryEntry]) -> int:
    _xadd_all(client, stream, entries)
    last = entries[-1]
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE campaigns SET published_through = GREATEST(published_through, :through), updated_at = now() "
                "WHERE id = :id"
            ),
            {"through": last.messages[-1][0], "id": last.campaign_id},
        )
    return sum(len(entry.messages) for entry in entries)


RELEASE_DUE = """
UPDATE communication_log l
SET status = 'queued', queued_at = COALESCE(l.queued_at, :now), not_before = NULL
WHERE l.id IN (
    SELECT l2.id FROM communication_log l2 JOIN campaigns c ON c.id = l2.campaign_id
    WHERE c.status = 'sending' AND l2.status = 'pending' AND (l2.not_before IS NULL OR l2.not_before <= :now)
    ORDER BY l2.id LIMIT :limit FOR UPDATE OF l2 SKIP LOCKED
)
RETURNING l.campaign_id, l.channel, l.id, l.idempotency_key, l.address, l.message, l.subject, l.customer_id, l.html
"""


def queue_due_messages(db: Engine, client: redis.Redis, settings: Settings, now: datetime, limit: int = 50_000) -> int:
    """Queue and publish pending messages whose wait is over, of campaigns that are sending; how many."""
    stream = settings.stream(STREAM)
    with db.begin() as conn:
        released = conn.execute(text(RELEASE_DUE), {"now": now, "limit": limit}).all()
        rows = sorted(released, key=lambda r: (r[0], r[1], r[2]))
        entries = [
            entry
            for (campaign_id, channel), group in groupby(rows, key=lambda r: (r[0], r[1]))
            for entry in _entries(campaign_id, channel, (tuple(r[2:]) for r in group), settings.delivery_batch_size)
        ]
        for start in range(0, len(entries), PIPELINE_ENTRIES):
            _xadd_all(client, stream, entries[start : start + PIPELINE_ENTRIES])
    return len(rows)
