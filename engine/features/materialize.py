"""The whole refresh of customer features, timed: read Postgres, compute, publish a snapshot, prune old ones.

The Dagster asset and the benchmark both call `materialize_features`, so what is measured is what runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from engine.features.compute import compute_features, event_frame, read_inputs
from engine.features.snapshot import DEFAULT_KEEP, SnapshotInfo, prune_snapshots, publish_snapshot
from engine.features.sources import read_transaction


@dataclass(frozen=True)
class Materialization:
    """The version published, the seconds each phase took, and the old versions removed."""

    snapshot: SnapshotInfo
    read_s: float
    compute_s: float
    publish_s: float
    prune_s: float
    removed_versions: list[int]

    @property
    def seconds(self) -> float:
        return self.read_s + self.compute_s + self.publish_s + self.prune_s


def materialize_features(
    db: Engine, snapshots_dir: Path, *, now: datetime | None = None, keep: int = DEFAULT_KEEP
) -> Materialization:
    """Compute every customer's features as of `now` (default: the current time) and publish them."""
    taken_at = now or datetime.now(UTC)
    started = time.perf_counter()
    with read_transaction(db) as reader:
        inputs = read_inputs(reader, taken_at)
    read = time.perf_counter()
    features = compute_features(inputs, taken_at)
    events = event_frame(inputs.events)
    source_totals, source_changes = inputs.source_totals, inputs.source_changes
    del inputs  # the source frames are not needed past here; at 1M customers they are hundreds of MB
    computed = time.perf_counter()
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
    return Materialization(
        snapshot=snapshot,
        read_s=read - started,
        compute_s=computed - read,
        publish_s=published - computed,
        prune_s=time.perf_counter() - published,
        removed_versions=removed,
    )
