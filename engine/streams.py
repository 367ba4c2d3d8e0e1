"""Redis Streams plumbing shared by every stream of the product (ingest, delivery, receipts, AI).

A producer `publish`es one entry of JSON; consumers in a group `read` new entries after `reclaim`ing
the ones a crashed consumer left pending, and `ack` them only once their effect is durable. Acknowledged
entries are deleted, so a stream holds only what is still to be done and its length is its backlog.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import redis

PAYLOAD = b"payload"


@dataclass(frozen=True)
class Entry:
    """One stream entry: its id and its decoded JSON payload (None when it could not be decoded)."""

    id: str
    payload: Any
    raw: bytes
    error: str | None = None


def entry_fields(payload: Any) -> dict[bytes, bytes]:
    """The fields of the entry that carries `payload` (for sync and asyncio clients alike)."""
    return {PAYLOAD: orjson.dumps(payload)}


def entry_id_text(entry_id: bytes | str) -> str:
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def publish(client: redis.Redis, stream: str, payload: Any) -> str:
    """Append one entry; Redis answers only after it is in its append-only file (when persistence is on)."""
    return entry_id_text(client.xadd(stream, entry_fields(payload)))  # type: ignore[arg-type]


def ensure_group(client: redis.Redis, stream: str, group: str) -> None:
    """Create the consumer group (and the stream) if missing; it starts from the first entry."""
    try:
        client.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


def _decode(entry_id: bytes | str, fields: dict[bytes, bytes] | None) -> Entry:
    ident = entry_id_text(entry_id)
    raw = (fields or {}).get(PAYLOAD, b"")
    try:
        return Entry(ident, orjson.loads(raw), raw)
    except orjson.JSONDecodeError as error:
        return Entry(ident, None, raw, f"undecodable payload: {error}")


def reclaim(client: redis.Redis, stream: str, group: str, consumer: str, min_idle_ms: int, count: int) -> list[Entry]:
    """Take over entries other consumers read but did not acknowledge within `min_idle_ms`."""
    entries: list[Entry] = []
    cursor = "0-0"
    while len(entries) < count:
        answer: Any = client.xautoclaim(stream, group, consumer, min_idle_ms, cursor, count - len(entries))
        cursor_raw, claimed, *_ = answer
        entries.extend(_decode(entry_id, fields) for entry_id, fields in claimed if fields is not None)
        cursor = cursor_raw.decode() if isinstance(cursor_raw, bytes) else str(cursor_raw)
        if cursor == "0-0":
            break
    return entries


def read(client: redis.Redis, stream: str, group: str, consumer: str, count: int, block_ms: int | None) -> list[Entry]:
    """Read up to `count` entries no consumer of the group has seen yet."""
    answer: Any = client.xreadgroup(group, consumer, {stream: ">"}, count=count, block=block_ms)
    if not answer:
        return []
    _, messages = answer[0]
    return [_decode(entry_id, fields) for entry_id, fields in messages]


def ack(client: redis.Redis, stream: str, group: str, entry_ids: list[str]) -> None:
    """Acknowledge and delete entries whose effect is committed, atomically."""
    if not entry_ids:
        return
    with client.pipeline(transaction=True) as pipe:
        pipe.xack(stream, group, *entry_ids)
        pipe.xdel(stream, *entry_ids)
        pipe.execute()


def newest_entry_id(client: redis.Redis, stream: str) -> str | None:
    newest: Any = client.xrevrange(stream, count=1)
    return entry_id_text(newest[0][0]) if newest else None


@dataclass(frozen=True)
class Backlog:
    """How far a group is behind: entries not yet delivered, and delivered but unacknowledged."""

    undelivered: int
    pending: int


def backlog(client: redis.Redis, stream: str, group: str) -> Backlog:
    pending = 0
    try:
        for info in client.xinfo_groups(stream):
            if info["name"] in (group, group.encode()):
                pending = int(info["pending"])
    except redis.ResponseError:
        return Backlog(0, 0)
    return Backlog(max(int(client.xlen(stream)) - pending, 0), pending)
