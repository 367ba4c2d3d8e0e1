"""The dead letters of the ingest stream: what could not be applied, with its error, until it is replayed.

Nothing accepted is ever dropped: a record Postgres refuses (or an entry that cannot be decoded) is kept
here, and after the cause is fixed `replay` puts it back on the ingest stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import orjson
import redis
from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.dialects.postgresql import insert

from engine.errors import Conflict
from engine.ingest.records import Batch, empty_batch
from engine.schema import ingest_dead_letters
from engine.streams import publish

TABLES = ("customers", "orders", "events")


@dataclass(frozen=True)
class DeadLetter:
    id: int
    stream_entry_id: str
    kind: str
    payload: str
    error: str
    failed_at: datetime
    replayed_at: datetime | None


def record(conn: Connection, stream_entry_id: str, kind: str, payload: str, error: str) -> None:
    """Keep what could not be applied, in the caller's transaction; once per entry and record, so an entry
    handled again (its consumer died before acknowledging it) adds nothing."""
    conn.execute(
        insert(ingest_dead_letters)
        .values(stream_entry_id=stream_entry_id, kind=kind, payload=payload.replace("\x00", "\\u0000"), error=error)
        .on_conflict_do_nothing()
    )


def list_dead_letters(db: Engine, include_replayed: bool = False, limit: int = 100) -> list[DeadLetter]:
    query = select(*ingest_dead_letters.c).order_by(ingest_dead_letters.c.id).limit(limit)
    if not include_replayed:
        query = query.where(ingest_dead_letters.c.replayed_at.is_(None))
    with db.connect() as conn:
        return [DeadLetter(*row) for row in conn.execute(query)]


def waiting_dead_letters(db: Engine) -> int:
    """How many dead letters have not been replayed yet."""
    with db.connect() as conn:
        return int(conn.scalar(select(func.count()).where(ingest_dead_letters.c.replayed_at.is_(None))) or 0)


def get_dead_letter(db: Engine, letter_id: int) -> DeadLetter | None:
    with db.connect() as conn:
        row = conn.execute(select(*ingest_dead_letters.c).where(ingest_dead_letters.c.id == letter_id)).one_or_none()
    return DeadLetter(*row) if row else None


class NotReplayable(Conflict, ValueError):
    """A dead letter that cannot go back on the stream as it is (it was never valid JSON)."""


def _as_batch(letter: DeadLetter) -> Batch:
    if letter.kind not in TABLES:
        raise NotReplayable(f"dead letter {letter.id} is an undecodable stream entry; it cannot be replayed")
    batch = empty_batch()
    batch[letter.kind].append(orjson.loads(letter.payload))  # type: ignore[literal-required]
    return batch


def replay(db: Engine, client: redis.Redis, stream: str, ids: list[int] | None = None) -> list[int]:
    """Put dead letters (the given ones, or all not yet replayed) back on the stream; returns their ids."""
    query = select(*ingest_dead_letters.c).where(ingest_dead_letters.c.replayed_at.is_(None))
    if ids is not None:
        query = query.where(ingest_dead_letters.c.id.in_(ids))
    replayed: list[int] = []
    with db.begin() as conn:
        for row in conn.execute(query.order_by(ingest_dead_letters.c.id).with_for_update()).all():
            letter = DeadLetter(*row)
            publish(client, stream, _as_batch(letter))
            conn.execute(
                update(ingest_dead_letters).where(ingest_dead_letters.c.id == letter.id).values(replayed_at=func.now())
            )
            replayed.append(letter.id)
    return replayed
