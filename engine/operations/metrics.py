"""The pipeline's state as Prometheus metrics, read from Redis, Postgres and Dagster when scraped.

Every process serves its default registry at `GET /metrics` (`engine.observability.metrics`: what it counts itself,
and its CPU, memory and open files). The state of the pipeline as a whole (each stream's backlog and lag per consumer
group, dead letters waiting, the outcomes of Dagster's recent runs, the newest feature snapshot's age) is read
when scraped, by the API only, so that it is reported once however many workers run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import redis
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from engine.features.snapshot import snapshot_info
from engine.ingest.deadletters import waiting_dead_letters
from engine.operations.runs import recent_runs
from engine.operations.status import stream_states
from engine.settings import Settings

RECENT_RUNS = 100  # the Dagster runs whose outcomes are counted, newest first
DAGSTER_WITHIN_S = 2.0  # a scrape does not wait longer than this for Dagster


class PipelineCollector(Collector):
    """The pipeline's state, read when scraped."""

    def __init__(self, db: Engine, client: redis.Redis, settings: Settings) -> None:
        self._db, self._client, self._settings = db, client, settings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = datetime.now(UTC)
        yield from self._streams(now)
        yield GaugeMetricFamily(
            "xeno_ingest_dead_letters", "Ingested records in the dead letters, not replayed yet.",
            value=waiting_dead_letters(self._db),
        )  # fmt: skip
        yield from self._runs()
        snapshot = snapshot_info(self._db)
        if snapshot is not None:
            yield GaugeMetricFamily(
                "xeno_feature_snapshot_age_seconds",
                "Seconds since the newest feature snapshot was published.",
                value=(now - snapshot.created_at).total_seconds(),
            )

    def _streams(self, now: datetime) -> Iterator[GaugeMetricFamily]:
        waiting = GaugeMetricFamily(
            "xeno_stream_entries",
            "Entries on a stream: undelivered (no consumer took them yet) or pending (taken, not yet done).",
            labels=["stream", "group", "state"],
        )
        lag = GaugeMetricFamily(
            "xeno_stream_lag_seconds", "Age of the oldest entry a consumer group has left to do (0 when none).",
            labels=["stream", "group"],
        )  # fmt: skip
        for stream in stream_states(self._client, self._settings, now):
            waiting.add_metric([stream.name, stream.group, "undelivered"], stream.undelivered)
            waiting.add_metric([stream.name, stream.group, "pending"], stream.pending)
            lag.add_metric([stream.name, stream.group], stream.lag_seconds or 0.0)
        yield waiting
        yield lag

    def _runs(self) -> Iterator[GaugeMetricFamily]:
        recent = recent_runs(self._settings, limit=RECENT_RUNS, explained=0, within_s=DAGSTER_WITHIN_S)
        yield GaugeMetricFamily(
            "xeno_dagster_up", "1 when Dagster's webserver answered for its runs, else 0.",
            value=0 if recent.unavailable else 1,
        )  # fmt: skip
        runs = GaugeMetricFamily(
            "xeno_dagster_recent_runs",
            f"Dagster's newest {RECENT_RUNS} runs by job and status (SUCCESS, FAILURE, CANCELED, STARTED, ...).",
            labels=["job", "status"],
        )
        for (job, status), count in sorted(Counter((run.job, run.status) for run in recent.runs).items()):
            runs.add_metric([job, status], count)
        yield runs


def pipeline_registry(db: Engine, client: redis.Redis, settings: Settings) -> CollectorRegistry:
    """A registry of the pipeline's state alone, served beside the process's own by the API."""
    registry = CollectorRegistry()  # without auto_describe: registering would read it all once more
    registry.register(PipelineCollector(db, client, settings))
    return registry
