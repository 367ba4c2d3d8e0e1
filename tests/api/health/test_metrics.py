"""`GET /metrics` counts each request by method, route template and status, times it, and reports the pipeline's
stream backlogs, lags and snapshot age, in Prometheus's text format."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from engine.features.materialize import materialize_features


def requests_counted(method: str, route: str, status: str) -> float:
    labels = {"method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("xeno_http_requests_total", labels) or 0.0


def scrape(api_client: TestClient) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Each sample `/metrics` answers, by name: its labels and value."""
    answer = api_client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def test_requests_are_counted_by_route_template_and_status(api_client: TestClient) -> None:
    health_before = requests_counted("GET", "/health", "200")
    unmatched_before = requests_counted("GET", "unmatched", "404")

    api_client.get("/health")
    api_client.get("/no/such/route")

    assert requests_counted("GET", "/health", "200") == health_before + 1
    assert requests_counted("GET", "unmatched", "404") == unmatched_before + 1
    samples = scrape(api_client)
    timed = [labels for labels, _ in samples["xeno_http_request_duration_seconds_count"]]
    assert {"method": "GET", "route": "/health"} in timed


def test_the_pipelines_streams_and_snapshot_age_are_reported(
    api_client: TestClient, database: Engine, data_dir: Path
) -> None:
    materialize_features(database, data_dir / "snapshots")

    samples = scrape(api_client)

    streams = {labels["stream"] for labels, _ in samples["xeno_stream_lag_seconds"]}
    assert {"ingest", "receipts"} <= streams
    states = {(labels["stream"], labels["state"]) for labels, _ in samples["xeno_stream_entries"]}
    assert ("ingest", "undelivered") in states
    [(_, age)] = samples["xeno_feature_snapshot_age_seconds"]
    assert 0 <= age < 600
