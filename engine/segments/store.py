"""Saved segments: a named rule with a description and an owner, kept in Postgres.

The rule is stored as the JSON `dump_rule` writes, after it has been parsed (and checked against the
catalog by the caller), so whatever reads it back parses a rule that was valid when saved. A name is
unique: two audiences called "Lapsed VIPs" would be one mistake away from a campaign to the wrong one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from engine.errors import Conflict
from engine.schema import segments, users
from engine.segments.rules import Rule
from engine.segments.validation import dump_rule


@dataclass(frozen=True)
class SavedSegment:
    """A saved segment as stored; `rule` is the rule's JSON."""

    id: int
    name: str
    description: str
    rule: dict[str, Any]
    owner_id: int | None
    owner_email: str | None
    created_at: datetime
    updated_at: datetime


class SegmentNameTaken(Conflict, ValueError):
    """Another segment already has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a segment called {name!r} already exists; choose another name")


def create_segment(db: Engine, *, name: str, rule: Rule, owner_id: int | None, description: str = "") -> SavedSegment:
    """Save a new segment; raises `SegmentNameTaken`."""
    values = {"name": name, "description": description, "rule": dump_rule(rule), "owner_id": owner_id}
    with _unique_name(name), db.begin() as conn:
        segment_id = conn.execute(insert(segments).values(values).returning(segments.c.id)).scalar_one()
        return _fetch(conn, segment_id)  # type: ignore[return-value]


def get_segment(db: Engine | Connection, segment_id: int) -> SavedSegment | None:
    if isinstance(db, Engine):
        with db.connect() as conn:
            return _fetch(conn, segment_id)
    return _fetch(db, segment_id)


def list_segments(db: Engine) -> list[SavedSegment]:
    """Every saved segment, by name."""
    with db.connect() as conn:
        return [_segment(row) for row in conn.execute(_select().order_by(segments.c.name))]


def update_segment(
    db: Engine,
    segment_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
    rule: Rule | None = None,
) -> SavedSegment | None:
    """Change what is given and keep the rest; None when there is no such segment. Raises `SegmentNameTaken`."""
    values: dict[str, Any] = {"updated_at": func.now()}
    if name is not None:
        values["name"] = name
    if description is not None:
        values["description"] = description
    if rule is not None:
        values["rule"] = dump_rule(rule)
    with _unique_name(name or ""), db.begin() as conn:
        changed = conn.execute(update(segments).where(segments.c.id == segment_id).values(values)).rowcount
        return _fetch(conn, segment_id) if changed else None


def delete_segment(db: Engine, segment_id: int) -> bool:
    """Delete the segment and its size history; False when there was no such segment."""
    with db.begin() as conn:
        return bool(conn.execute(delete(segments).where(segments.c.id == segment_id)).rowcount)


@contextmanager
def _unique_name(name: str) -> Iterator[None]:
    """Turns the unique-name violation into `SegmentNameTaken`."""
    try:
        yield
    except IntegrityError as error:
        if "uq_segments_name" in str(error.orig):
            raise SegmentNameTaken(name) from None
        raise


def _select() -> Any:
    return select(*segments.c, users.c.email.label("owner_email")).outerjoin(users, users.c.id == segments.c.owner_id)


def _fetch(conn: Connection, segment_id: int) -> SavedSegment | None:
    row = conn.execute(_select().where(segments.c.id == segment_id)).one_or_none()
    return _segment(row) if row else None


def _segment(row: Any) -> SavedSegment:
    mapping = row._mapping
    return SavedSegment(**{name: mapping[name] for name in SavedSegment.__dataclass_fields__})
