"""Each saved segment's size at every feature snapshot, and who entered or left it between two snapshots.

A record keeps the segment's member set at that snapshot (a `MemberSet` bitmap), its size, and how many
entered and left since the segment's previous record, so a size chart reads counts and only "who
exactly" decompresses bitmaps. Records are made by the `segment_sizes` pipeline asset at each snapshot
(`record_snapshot_sizes`) and by the API when a segment is saved, so a new segment has a size at once.
Recording the same segment and snapshot again replaces the record (its rule may have changed since).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from sqlalchemy import Connection, Engine, select, tuple_
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert

from engine.errors import NotFound
from engine.features.snapshot import Snapshot
from engine.schema import segment_sizes
from engine.segments.errors import RuleError
from engine.segments.member_sets import MemberSet
from engine.segments.polars_backend import PolarsEvaluator
from engine.segments.rules import Rule
from engine.segments.store import SavedSegment, list_segments
from engine.segments.validation import parse_rule


@dataclass(frozen=True)
class SizeRecord:
    """A segment's size at one snapshot; entered and left are counted against its previous record."""

    segment_id: int
    snapshot_version: int
    snapshot_taken_at: datetime
    size: int
    entered_count: int | None
    left_count: int | None
    recorded_at: datetime


@dataclass(frozen=True)
class MembershipChanges:
    """Who is in the segment at `until` and was not at `since` (entered), and the other way round (left); with
    no `since` (the segment's first record), nobody has entered or left yet."""

    since: SizeRecord | None
    until: SizeRecord
    entered: npt.NDArray[np.int64]
    left: npt.NDArray[np.int64]


@dataclass(frozen=True)
class SizeRecording:
    """What recording every saved segment at one snapshot did: the records, and the segments refused."""

    records: list[SizeRecord]
    refused: dict[int, str]  # segment id -> why its rule could not be evaluated on this snapshot


class HistoryMissing(NotFound, LookupError):
    """The segment has no record for a snapshot asked about (or not enough records to compare)."""


def evaluate_members(evaluator: PolarsEvaluator, rule: Rule) -> MemberSet:
    """The customers the rule matches on the evaluator's snapshot."""
    matching = evaluator.features.lazy().select(pl.col("customer_id").filter(evaluator.compile(rule)))
    return MemberSet.of(matching.collect().to_series().to_numpy())


def record_size(
    db: Engine, segment: SavedSegment, members: MemberSet, *, version: int, taken_at: datetime
) -> SizeRecord:
    """Store the segment's members at a snapshot, counting who entered and left since its previous record."""
    with db.begin() as conn:
        previous = _previous_members(conn, segment.id, version, taken_at)
        values = {
            "segment_id": segment.id,
            "snapshot_version": version,
            "snapshot_taken_at": taken_at,
            "size": len(members),
            "entered_count": len(members - previous) if previous is not None else None,
            "left_count": len(previous - members) if previous is not None else None,
            "members": members.to_bytes(),
            "rule": segment.rule,
        }
        statement = pg_insert(segment_sizes).values(values)
        replaced = ("snapshot_taken_at", "size", "entered_count", "left_count", "members", "rule", "recorded_at")
        row = conn.execute(
            statement.on_conflict_do_update(
                index_elements=[segment_sizes.c.segment_id, segment_sizes.c.snapshot_version],
                set_={name: statement.excluded[name] for name in replaced},
            ).returning(*_record_columns())
        ).one()
    return _record(row)


def record_all_sizes(db: Engine, evaluator: PolarsEvaluator, *, version: int, taken_at: datetime) -> SizeRecording:
    """Record every saved segment at a snapshot. A rule that no longer fits the snapshot's catalog (a trait
    column gone) is refused, with why, and the other segments are still recorded."""
    records, refused = [], {}
    for segment in list_segments(db):
        try:
            rule = parse_rule(segment.rule, evaluator.catalog)
        except RuleError as error:
            refused[segment.id] = str(error)
            continue
        members = evaluate_members(evaluator, rule)
        records.append(record_size(db, segment, members, version=version, taken_at=taken_at))
    return SizeRecording(records, refused)


def record_snapshot_sizes(db: Engine, snapshot: Snapshot) -> SizeRecording:
    """Record every saved segment at a published snapshot, its rules read as of the snapshot's time."""
    evaluator = PolarsEvaluator(snapshot.features, snapshot.events, now=snapshot.taken_at, catalog=snapshot.catalog)
    return record_all_sizes(db, evaluator, version=snapshot.version, taken_at=snapshot.taken_at)


def size_history(db: Engine, segment_id: int) -> list[SizeRecord]:
    """The segment's records, oldest snapshot first."""
    with db.connect() as conn:
        rows = conn.execute(
            select(*_record_columns()).where(segment_sizes.c.segment_id == segment_id).order_by(*_snapshot_order())
        )
        return [_record(row) for row in rows]


def latest_sizes(db: Engine, segment_id: int | None = None) -> dict[int, SizeRecord]:
    """Every segment's newest record (or only the given segment's), by segment id."""
    newest = (
        select(*_record_columns())
        .ext(distinct_on(segment_sizes.c.segment_id))
        .order_by(segment_sizes.c.segment_id, *(column.desc() for column in _snapshot_order()))
    )
    if segment_id is not None:
        newest = newest.where(segment_sizes.c.segment_id == segment_id)
    with db.connect() as conn:
        return {row.segment_id: _record(row) for row in conn.execute(newest)}


def membership_changes(
    db: Engine, segment_id: int, since_version: int | None = None, until_version: int | None = None
) -> MembershipChanges:
    """Who entered and left between two recorded snapshots: by default the latest and the one before it (none
    when the latest is the first record: no changes yet)."""
    with db.connect() as conn:
        until = _find(conn, segment_id, until_version, before=None)
        try:
            since = _find(conn, segment_id, since_version, before=until if since_version is None else None)
        except HistoryMissing:
            if since_version is not None:
                raise
            nobody = np.empty(0, dtype=np.int64)
            return MembershipChanges(since=None, until=until, entered=nobody, left=nobody)
        members = {
            version: MemberSet.from_bytes(stored)
            for version, stored in conn.execute(
                select(segment_sizes.c.snapshot_version, segment_sizes.c.members).where(
                    segment_sizes.c.segment_id == segment_id,
                    segment_sizes.c.snapshot_version.in_([since.snapshot_version, until.snapshot_version]),
                )
            )
        }
    before, after = members[since.snapshot_version], members[until.snapshot_version]
    return MembershipChanges(since=since, until=until, entered=(after - before).ids(), left=(before - after).ids())


def _find(conn: Connection, segment_id: int, version: int | None, before: SizeRecord | None) -> SizeRecord:
    """The record of `version`; without one, the latest record (before `before`'s snapshot, if given)."""
    query = select(*_record_columns()).where(segment_sizes.c.segment_id == segment_id)
    if version is not None:
        query = query.where(segment_sizes.c.snapshot_version == version)
    elif before is not None:
        query = query.where(_earlier_than(before.snapshot_taken_at, before.snapshot_version))
    row = conn.execute(query.order_by(*(column.desc() for column in _snapshot_order())).limit(1)).one_or_none()
    if row is not None:
        return _record(row)
    if version is not None:
        raise HistoryMissing(f"segment {segment_id} has no record for snapshot {version}")
    if before is not None:
        raise HistoryMissing(f"segment {segment_id} has no record before snapshot {before.snapshot_version}")
    raise HistoryMissing(f"segment {segment_id} has no size records yet")


def _previous_members(conn: Connection, segment_id: int, version: int, taken_at: datetime) -> MemberSet | None:
    stored = conn.execute(
        select(segment_sizes.c.members)
        .where(segment_sizes.c.segment_id == segment_id, _earlier_than(taken_at, version))
        .order_by(*(column.desc() for column in _snapshot_order()))
        .limit(1)
    ).scalar_one_or_none()
    return MemberSet.from_bytes(stored) if stored is not None else None


def _earlier_than(taken_at: datetime, version: int) -> Any:
    return tuple_(*_snapshot_order()) < tuple_(taken_at, version)


def _snapshot_order() -> tuple[Any, ...]:
    return segment_sizes.c.snapshot_taken_at, segment_sizes.c.snapshot_version


def _record_columns() -> tuple[Any, ...]:
    return tuple(segment_sizes.c[name] for name in SizeRecord.__dataclass_fields__)


def _record(row: Any) -> SizeRecord:
    return SizeRecord(**row._mapping)
