"""Incremental features: the customers an ingest batch touched, recomputed and published as a delta on the snapshot.

A full refresh reads every customer (seconds at a million); a segment should follow an event faster than that.
So the ingest transaction records which customers it touched (`freshness.record_touched_customers`, in the same
transaction as the rows, so a batch that rolls back records nothing and one that commits is never missed), and
`publish_delta` takes them off that queue, recomputes their features and writes the rows as a delta, all in one
REPEATABLE READ transaction: the queue and the data are one picture, a delta that fails leaves its customers
queued, and one that commits has taken exactly the customers whose changes it read. Customers only events touched
(most of what ingest applies) keep their row, which events do not change: the delta carries their events alone, so it
reads no orders for them (`DeltaInfo.events_touched_ids`). One that has no row yet (a bare customer an event named
first) gets its whole row.

Ordering: deltas are published one at a time (an advisory lock), so ids follow the count of source changes each
read (`source_changes`, see `engine.features.freshness`). A reader holding a snapshot that read C changes applies,
in id order, only the deltas that read more than C: a delta computed before a newer full snapshot read its data is
never applied over it. Customers a delta touched that no longer exist are dropped (`removed_ids`).

A delta is typed like the newest snapshot: a category gains the new values it needs, a trait whose values no
longer fit its column's type is noted in `unfit_columns` (the next full refresh retypes it), a new trait waits
for the next full refresh. Its rows are Parquet files under `<snapshots>/deltas/`, written before the commit and
removed if it fails; `prune_deltas` removes deltas a full snapshot has caught up with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import orjson
import polars as pl
from sqlalchemy import Engine, delete, select, text

from engine.features.compute import compute_features, event_frame, read_inputs
from engine.features.snapshot import DeltaInfo, write_parquet
from engine.features.sources import SourceReader, read_transaction
from engine.schema import feature_deltas

MAX_CUSTOMERS = 50_000  # customers taken off the queue per delta: bounds one delta after a long outage
DELTAS_DIR = "deltas"
_LOCK = "SELECT pg_try_advisory_xact_lock(hashtext('xeno.feature_deltas'))"
_DELTA_FILE = re.compile(r"^(?:customer_features|events)_d(\d+)\.parquet(?:\.tmp)?$")

TAKE_TOUCHED = """
DELETE FROM feature_touched_customers
WHERE ctid = ANY(ARRAY(SELECT ctid FROM feature_touched_customers LIMIT %(limit)s))
RETURNING customer_id, events_only
"""
NEWEST_SNAPSHOT = "SELECT version, features_path, table_name FROM feature_snapshots ORDER BY version DESC LIMIT 1"
# Of the customers only events touched, those without a row in the newest version (new since, as a bare customer
# an event named): they need their whole row computed.
ROWLESS = """
SELECT u.id FROM unnest(%(ids)s::bigint[]) AS u(id)
WHERE NOT EXISTS (SELECT 1 FROM {table} f WHERE f.customer_id = u.id)
"""
INSERT_DELTA = """
INSERT INTO feature_deltas (id, taken_at, source_changes, row_count, features_path, events_path, removed_ids,
                            unfit_columns)
OVERRIDING SYSTEM VALUE
VALUES (%(id)s, %(taken_at)s, %(source_changes)s, %(row_count)s, %(features_path)s, %(events_path)s,
        %(removed_ids)s, %(unfit_columns)s)
RETURNING id
"""


def publish_delta(
    db: Engine, snapshots_dir: Path, *, now: datetime | None = None, limit: int = MAX_CUSTOMERS
) -> DeltaInfo | None:
    """Recompute the features of the customers waiting on the queue (up to `limit`) as of `now` and publish them as
    a delta; None when there was nothing to do (no customers waiting, no snapshot yet, or another delta is being
    published)."""
    taken_at = now or datetime.now(UTC)
    written: list[Path] = []
    try:
        with read_transaction(db, commit=True) as reader:
            return _publish(reader, snapshots_dir / DELTAS_DIR, taken_at, limit, written)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def _publish(
    reader: SourceReader, deltas_dir: Path, taken_at: datetime, limit: int, written: list[Path]
) -> DeltaInfo | None:
    [(locked,)] = reader.rows(_LOCK)
    # A delta's reads look up thousands of customers by key: Postgres' JIT (their estimates pass its threshold)
    # compiled for longer than such a query runs.
    reader.rows("SELECT set_config('jit', 'off', true)")
    newest = reader.rows(NEWEST_SNAPSHOT)
    if not locked or not newest:
        return None  # without a snapshot the customers stay queued: the first full refresh reads them anyway
    taken = reader.rows(TAKE_TOUCHED, {"limit": limit})
    if not taken:
        return None
    ids, events_only = _whole_rows_and_events_only(reader, newest[0][2], taken)
    inputs = read_inputs(reader, taken_at, only=ids, events_of=events_only)
    features, unfit = conform(compute_features(inputs, taken_at), pl.read_parquet_schema(newest[0][1]))
    events = event_frame(inputs.events)
    found = set(features.get_column("customer_id").to_list())
    [(delta_id,)] = reader.rows("SELECT nextval(pg_get_serial_sequence('feature_deltas', 'id'))")
    deltas_dir.mkdir(parents=True, exist_ok=True)
    features_path = write_parquet(features, deltas_dir / f"customer_features_d{delta_id}.parquet", written)
    events_path = write_parquet(events, deltas_dir / f"events_d{delta_id}.parquet", written)
    info = DeltaInfo(
        id=int(delta_id),
        taken_at=taken_at,
        source_changes=inputs.source_changes,
        row_count=features.height,
        features_path=features_path,
        events_path=events_path,
        removed_ids=[customer_id for customer_id in ids if customer_id not in found],
        unfit_columns=unfit,
    )
    reader.rows(
        INSERT_DELTA,
        {
            **{name: getattr(info, name) for name in ("id", "taken_at", "source_changes", "row_count")},
            "features_path": str(features_path),
            "events_path": str(events_path),
            "removed_ids": info.removed_ids,
            "unfit_columns": orjson.dumps(unfit).decode(),
        },
    )
    return info


def _whole_rows_and_events_only(
    reader: SourceReader, table_name: str, taken: list[tuple[int, bool]]
) -> tuple[list[int], list[int]]:
    """The customers taken off the queue whose rows are recomputed, and those whose events alone are re-read: only
    events touched them (every time they were queued) and the newest version has their row."""
    whole = {customer_id for customer_id, only_events in taken if not only_events}
    events_only = {customer_id for customer_id, _ in taken} - whole
    if events_only:
        schema, table = table_name.split(".", 1)
        rowless = reader.rows(ROWLESS.format(table=f'"{schema}"."{table}"'), {"ids": sorted(events_only)})
        whole |= {customer_id for (customer_id,) in rowless}
    return sorted(whole), sorted(events_only - whole)


def conform(frame: pl.DataFrame, schema: Mapping[str, pl.DataType]) -> tuple[pl.DataFrame, list[str]]:
    """`frame` with the columns of `schema`, in its order and types: a category gains the values it lacks, a
    column the frame lacks is null (no customer of it has that trait), one it has beyond them is left out. Also
    the columns whose values did not all fit their type (they are null where they did not)."""
    columns: list[pl.Series] = []
    unfit: list[str] = []
    for name, dtype in schema.items():
        if name not in frame.columns:
            columns.append(pl.Series(name, [None] * frame.height, dtype=dtype))
            continue
        values = frame.get_column(name)
        if isinstance(dtype, pl.Enum):
            text_values = values.cast(pl.String)
            columns.append(text_values.cast(_enum_with(dtype, text_values)))
            continue
        typed = values.cast(dtype, strict=False)
        lost = values.is_not_null() & (typed.is_null() | (typed.cast(values.dtype, strict=False) != values))
        if lost.any():
            unfit.append(name)
            typed = pl.select(pl.when(lost).then(None).otherwise(typed)).to_series()
        columns.append(typed.alias(name))
    return pl.DataFrame(columns), unfit


def _enum_with(dtype: pl.Enum, values: pl.Series) -> pl.Enum:
    """`dtype` with the values of `values` it lacks added after its own categories (so its codes stay)."""
    known = dtype.categories.to_list()
    extra = sorted(set(values.drop_nulls().unique().to_list()) - set(known))
    return pl.Enum([*known, *extra]) if extra else dtype


def prune_deltas(db: Engine, snapshots_dir: Path, through_changes: int) -> list[int]:
    """Remove the deltas that read no more than `through_changes` changes (a published snapshot has caught up with
    them), rows and files, and files of deltas whose transaction died; returns the ids removed."""
    with db.begin() as conn:
        newest = conn.scalar(select(feature_deltas.c.id).order_by(feature_deltas.c.id.desc()).limit(1))
        removed = conn.scalars(
            delete(feature_deltas)
            .where(feature_deltas.c.source_changes <= through_changes)
            .returning(feature_deltas.c.id)
        ).all()
        kept = set(conn.scalars(select(feature_deltas.c.id)))
    # A delta being published now has an id past `newest`: its files are left alone.
    for path in _delta_files(snapshots_dir):
        delta_id = int(_DELTA_FILE.match(path.name).group(1))  # type: ignore[union-attr]
        if newest is not None and delta_id <= newest and delta_id not in kept:
            path.unlink(missing_ok=True)
    return sorted(int(delta_id) for delta_id in removed)


def _delta_files(snapshots_dir: Path) -> Iterable[Path]:
    folder = snapshots_dir / DELTAS_DIR
    return [path for path in folder.glob("*.parquet*") if _DELTA_FILE.match(path.name)] if folder.exists() else []


def customers_queued(db: Engine) -> bool:
    """Whether customers wait on the queue for a delta (and a snapshot exists to put one on)."""
    with db.connect() as conn:
        return bool(
            conn.scalar(
                text(
                    "SELECT EXISTS (SELECT 1 FROM feature_touched_customers) "
                    "AND EXISTS (SELECT 1 FROM feature_snapshots)"
                )
            )
        )
