"""Prometheus metrics of the product, with the maintained `prometheus-client`.

Every process serves its default registry at `GET /metrics` (the API on its own port, the workers beside their
`/health`): the process's own figures (CPU, memory, open files) and what it counts itself, such as the API's
requests by route and status with their latency. The state of the pipeline as a whole (each stream's backlog and
lag per consumer group, the newest feature snapshot's age) is read from Redis and Postgres when scraped, by the API
only, so that it is reported once however many workers run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import redis
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from engine.features.snapshot import snapshot_info
from engine.operations.status import stream_states
from engine.settings import Settings

HTTP_REQUESTS = Counter(
    "xeno_http_requests", "HTTP requests answered, by method, route and status.", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "xeno_http_request_duration_seconds", "How long HTTP requests took to answer, by method and route.",
    ["method", "route"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)  # fmt: skip


class PipelineCollector(Collector):
    """Each stream's backlog and lag per consumer group, and the newest feature snapshot's age, read when scraped."""

    def __init__(self, db: Engine, client: redis.Redis, settings: Settings) -> None:
        self._db, self._client, self._settings = db, client, settings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = datetime.now(UTC)
        waiting = GaugeMetricFamily(
            "xeno_stream_entries",
            "Entries on a stream: undelivered (no consumer took them yet) or pending (taken, not yet done).",
            labels=["stream", "group", "state"],
        )
        lag = GaugeMetricFamily(
            "xeno_stream_lag_seconds", "Age of the oldest entry left on a stream (0 when empty).", labels=["stream"]
        )
        for stream in stream_states(self._client, self._settings, now):
            waiting.add_metric([stream.name, stream.group, "undelivered"], stream.undelivered)
            waiting.add_metric([stream.name, stream.group, "pending"], stream.pending)
            lag.add_metric([stream.name], stream.lag_seconds or 0.0)
        yield waiting
        yield lag
        snapshot = snapshot_info(self._db)
        if snapshot is not None:
            yield GaugeMetricFamily(
                "xeno_feature_snapshot_age_seconds",
                "Seconds since the newest feature snapshot was published.",
                value=(now - snapshot.created_at).total_seconds(),
            )


def pipeline_registry(db: Engine, client: redis.Redis, settings: Settings) -> CollectorRegistry:
    """A registry of the pipeline's state alone, served beside the process's own by the API."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(PipelineCollector(db, client, settings))
    return registry
