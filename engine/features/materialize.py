"""The whole refresh of customer features, timed: read Postgres, compute, check the deltas, publish, prune.

The Dagster asset and the benchmark both call `materialize_features`, so what is measured is what runs.

A refresh also proves the incremental path right: in the same read transaction as its data it notes what readers
held (the newest version, the deltas on it, the customers still queued for one), and holds those rows to its own
features recomputed as of each row's time (`checks.incremental_state_agrees`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from engine.features.checks import CheckOutcome, IncrementalState, incremental_state_agrees
from engine.features.compute import FeatureInputs, compute_features, event_frame, read_inputs
from engine.features.deltas import prune_deltas
from engine.features.snapshot import (
    DEFAULT_KEEP,
    SnapshotInfo,
    deltas_after,
    prune_snapshots,
    publish_snapshot,
    snapshot_info,
    updated_features,
)
from engine.features.sources import SourceReader, read_transaction

HELD_VERSION = "SELECT version, source_changes FROM feature_snapshots ORDER BY version DESC LIMIT 1"
HELD_DELTAS = "SELECT id FROM feature_deltas WHERE source_changes > %(changes)s"
QUEUED_CUSTOMERS = "SELECT DISTINCT customer_id FROM feature_touched_customers"


@dataclass(frozen=True)
class Materialization:
    """The version published, the seconds each phase took, the old versions removed, and how the incremental
    state compared (None: there was no earlier version to compare)."""

    snapshot: SnapshotInfo
    read_s: float
    compute_s: float
    publish_s: float
    prune_s: float
    removed_versions: list[int]
    incremental: CheckOutcome | None = None
    check_s: float = 0.0

    @property
    def seconds(self) -> float:
        return self.read_s + self.compute_s + self.check_s + self.publish_s + self.prune_s


@dataclass(frozen=True)
class _Held:
    """What readers held as the refresh's transaction saw it: a version, the deltas on it, the queued customers."""

    version: int
    delta_ids: set[int]
    pending: set[int]


def materialize_features(
    db: Engine, snapshots_dir: Path, *, now: datetime | None = None, keep: int = DEFAULT_KEEP
) -> Materialization:
    """Compute every customer's features as of `now` (default: the current time), check the incremental state
    against them, and publish them."""
    taken_at = now or datetime.now(UTC)
    started = time.perf_counter()
    with read_transaction(db) as reader:
        inputs = read_inputs(reader, taken_at)
        held = _held(reader)
    read = time.perf_counter()
    features = compute_features(inputs, taken_at)
    events = event_frame(inputs.events)
    computed = time.perf_counter()
    incremental = None if held is None else _check_incremental(db, held, inputs, taken_at)
    checked = time.perf_counter()
    source_totals, source_changes = inputs.source_totals, inputs.source_changes
    del inputs  # the source frames are not needed past here; at 1M customers they are hundreds of MB
    snapshot = publish_snapshot(
        db,
        snapshots_dir,
        features,
        events,
        taken_at=taken_at,
        source_totals=source_totals,
        source_changes=source_changes,
    )
    published = time.perf_counter()
    removed = prune_snapshots(db, snapshots_dir, keep)
    prune_deltas(db, snapshots_dir, source_changes)
    return Materialization(
        snapshot=snapshot,
        read_s=read - started,
        compute_s=computed - read,
        check_s=checked - computed,
        publish_s=published - checked,
        prune_s=time.perf_counter() - published,
        removed_versions=removed,
        incremental=incremental,
    )


def _held(reader: SourceReader) -> _Held | None:
    newest = reader.rows(HELD_VERSION)
    if not newest:
        return None
    [(version, changes)] = newest
    delta_ids = {delta_id for (delta_id,) in reader.rows(HELD_DELTAS, {"changes": -1 if changes is None else changes})}
    pending = {customer_id for (customer_id,) in reader.rows(QUEUED_CUSTOMERS)}
    return _Held(int(version), delta_ids, pending)


def _check_incremental(db: Engine, held: _Held, inputs: FeatureInputs, now: datetime) -> CheckOutcome | None:
    """The held version with its deltas against the features recomputed from `inputs` as of each row's time; None
    when the version was pruned meanwhile."""
    info = snapshot_info(db, held.version)
    if info is None:
        return None
    deltas = [delta for delta in deltas_after(db, 0, info.source_changes) if delta.id in held.delta_ids]
    version_ids = pl.read_parquet(info.features_path, columns=["customer_id"])
    as_of = [version_ids.with_columns(as_of=pl.lit(info.taken_at.astimezone(UTC)))]
    as_of += [
        delta.touched_ids.to_frame().with_columns(as_of=pl.lit(delta.taken_at.astimezone(UTC))) for delta in deltas
    ]
    state = IncrementalState(
        features=updated_features(pl.read_parquet(info.features_path), deltas),
        as_of=pl.concat(as_of).unique("customer_id", keep="last", maintain_order=True),
        pending=held.pending,
        unfit_columns={name for delta in deltas for name in delta.unfit_columns},
        version=info.version,
        deltas=len(deltas),
    )
    return incremental_state_agrees(state, compute_features(inputs, now, as_of=state.as_of))
