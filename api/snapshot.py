"""The feature snapshot the API answers segment questions from, kept in memory and swapped without waiting.

The newest published snapshot is loaded once with the deltas published on it (its frames sorted by customer
id, and a `PolarsEvaluator` built with its newest rows' time as "now", so relative rules mean the same in every
answer about it). Requests read the current one by reference. At most every `check_every_s` seconds a request
starts a background check: a newer version is loaded whole; otherwise the deltas published since
(`engine.features.deltas`) are applied to a copy, so a segment follows an ingested event within seconds. Either
way the reference is swapped when the new one is ready, while requests keep being answered from the old one. Only
the very first request waits for a load. Before any snapshot has been published, segment routes answer 409 saying
how to make one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Annotated

import polars as pl
from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel

from api.errors import Conflict, ServiceUnavailable
from engine.connections import get_engine
from engine.features.catalog import Catalog, base_catalog
from engine.features.snapshot import DeltaInfo, Snapshot, deltas_after, latest_snapshot, latest_version
from engine.segments.field_guide import FieldGuide, field_guide
from engine.segments.polars_backend import PolarsEvaluator

log = logging.getLogger(__name__)

CHECK_EVERY_S = 0.5  # two indexed lookups (the newest version, deltas past the one held)


@dataclass(frozen=True)
class LiveSnapshot:
    """A loaded snapshot, ready to evaluate rules on."""

    version: int
    taken_at: datetime
    evaluator: PolarsEvaluator
    source: Snapshot  # what it was built from, for applying the next deltas

    @property
    def features(self) -> pl.DataFrame:
        return self.evaluator.features

    @property
    def catalog(self) -> Catalog:
        return self.evaluator.catalog

    @cached_property
    def field_guide(self) -> list[FieldGuide]:
        """The catalog for the rule builder, with traits' examples from this snapshot (worked out once)."""
        return field_guide(self.catalog, self.features)

    @classmethod
    def of(cls, snapshot: Snapshot) -> LiveSnapshot:
        features = snapshot.features
        if not features.get_column("customer_id").is_sorted():
            features = features.sort("customer_id")
        evaluator = PolarsEvaluator(features, snapshot.events, now=snapshot.taken_at, catalog=snapshot.catalog)
        return cls(snapshot.version, snapshot.taken_at, evaluator, snapshot)


class SnapshotOut(BaseModel):
    """The feature snapshot an answer was computed on."""

    version: int
    taken_at: datetime
    customers: int

    @classmethod
    def of(cls, snapshot: LiveSnapshot) -> SnapshotOut:
        return cls(version=snapshot.version, taken_at=snapshot.taken_at, customers=snapshot.features.height)


class NoSnapshot(Conflict):
    error = "no_feature_snapshot"

    def __init__(self) -> None:
        super().__init__(
            "No customer feature snapshot has been published yet, so there is nothing to evaluate segments on. "
            "Materialize the `customer_features` asset in Dagster (it also runs after ingestion and on a "
            "schedule), then try again.",
            headers={"Retry-After": "30"},
        )


class SnapshotUnreadable(ServiceUnavailable):
    error = "feature_snapshot_unreadable"

    def __init__(self, error: OSError) -> None:
        super().__init__(
            f"The newest feature snapshot is published but its files cannot be read ({error.strerror or error}): "
            "check the snapshots folder, or materialize `customer_features` again."
        )


def _no_deltas(_: Snapshot) -> list[DeltaInfo]:
    return []


class SnapshotHolder:
    """Holds the current `LiveSnapshot`; `latest_version`, `load_latest` and `deltas_since` (the deltas published
    on a snapshot after those it has) read what has been published."""

    def __init__(
        self,
        latest_version: Callable[[], int | None],
        load_latest: Callable[[], Snapshot | None],
        *,
        deltas_since: Callable[[Snapshot], list[DeltaInfo]] = _no_deltas,
        check_every_s: float = CHECK_EVERY_S,
    ) -> None:
        self._latest_version = latest_version
        self._load_latest = load_latest
        self._deltas_since = deltas_since
        self.check_every_s = check_every_s
        self._current: LiveSnapshot | None = None
        self._first_load = threading.Lock()
        self._refresh = threading.Lock()  # held by the one background refresh in flight
        self._checked_at = 0.0

    def current(self) -> LiveSnapshot:
        """The snapshot to answer from; raises `NoSnapshot` when none has been published."""
        snapshot = self._current
        if snapshot is None:
            return self._load_first()
        if time.monotonic() - self._checked_at >= self.check_every_s and self._refresh.acquire(blocking=False):
            self._checked_at = time.monotonic()
            threading.Thread(target=self._refresh_in_background, name="snapshot-refresh", daemon=True).start()
        return snapshot

    def _load_first(self) -> LiveSnapshot:
        with self._first_load:
            if self._current is None:
                try:
                    self._load()
                except OSError as error:
                    log.exception("could not read the newest feature snapshot's files")
                    raise SnapshotUnreadable(error) from None
            if self._current is None:
                raise NoSnapshot()
            return self._current

    def _refresh_in_background(self) -> None:
        try:
            current = self._current
            if current is not None and self._latest_version() != current.version:
                self._load()
            elif current is not None and (deltas := self._deltas_since(current.source)):
                self._apply(current, deltas)
        except Exception:
            log.exception("could not load the newest feature snapshot; still answering from the one loaded")
        finally:
            self._checked_at = time.monotonic()
            self._refresh.release()

    def _load(self) -> None:
        started = time.perf_counter()
        published = self._load_latest()
        if published is None:
            return
        live = LiveSnapshot.of(published)
        self._current = live  # one reference assignment: readers see the old snapshot or the new, never half
        log.info(
            "feature snapshot %s loaded: %d customers in %.1f s",
            live.version,
            live.features.height,
            time.perf_counter() - started,
        )

    def _apply(self, current: LiveSnapshot, deltas: list[DeltaInfo]) -> None:
        started = time.perf_counter()
        live = LiveSnapshot.of(current.source.with_deltas(deltas))
        if self._current is current:  # a newer version loaded meanwhile wins
            self._current = live
        log.debug(
            "feature snapshot %s: %d deltas applied (through %d) in %.2f s",
            live.version,
            len(deltas),
            deltas[-1].id,
            time.perf_counter() - started,
        )


_making = threading.Lock()


def snapshot_holder(app: FastAPI) -> SnapshotHolder:
    """The app's holder, made on first use (tests replace `app.state.snapshots` to load their own)."""
    with _making:
        if not hasattr(app.state, "snapshots"):
            app.state.snapshots = _published_snapshots()
        holder: SnapshotHolder = app.state.snapshots
        return holder


def _published_snapshots() -> SnapshotHolder:
    return SnapshotHolder(
        lambda: latest_version(get_engine()),
        lambda: latest_snapshot(get_engine()),
        deltas_since=lambda snapshot: deltas_after(get_engine(), snapshot.delta_id, snapshot.info.source_changes),
    )


def live_snapshot(request: Request) -> LiveSnapshot:
    return snapshot_holder(request.app).current()


def loaded_snapshot(app: FastAPI) -> LiveSnapshot | None:
    """The current snapshot, or None when there is none to read (for routes that can do without)."""
    try:
        return snapshot_holder(app).current()
    except (NoSnapshot, SnapshotUnreadable):
        return None


def current_catalog(app: FastAPI) -> Catalog:
    """The current snapshot's catalog (traits included), or the static one before any snapshot."""
    snapshot = loaded_snapshot(app)
    return snapshot.catalog if snapshot else base_catalog()


CurrentSnapshot = Annotated[LiveSnapshot, Depends(live_snapshot)]
