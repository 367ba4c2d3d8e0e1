"""`GET /metrics` counts each request by method, route template and status, times it, counts the records the API
accepted and a consumer applied, and reports the pipeline's stream backlogs and lags per group, dead letters,
Dagster's recent run outcomes and the snapshot age, in Prometheus's text format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import redis
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import Engine

from api.main import create_app
from engine.features.materialize import materialize_features
from engine.ingest import deadletters
from engine.services.supervisor import free_port
from engine.settings import Settings
from tests.fixtures.api import drain_ingest_stream
from tests.fixtures.metrics import Samples, parse, scrape, value
from tests.pipelines.helpers import fail_an_ingest_run


def api_metrics(api_client: TestClient) -> Samples:
    answer = api_client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return parse(answer.text)


def test_requests_are_counted_by_route_template_and_status(api_client: TestClient) -> None:
    before = api_metrics(api_client)

    api_client.get("/health")
    api_client.get("/no/such/route")

    after = api_metrics(api_client)
    for route, status in (("/health", "200"), ("unmatched", "404")):
        labels = {"method": "GET", "route": route, "status": status}
        assert (
            value(after, "xeno_http_requests_total", **labels)
            == value(before, "xeno_http_requests_total", **labels) + 1
        )
    timed = [labels for labels, _ in after["xeno_http_request_duration_seconds_count"]]
    assert {"method": "GET", "route": "/health"} in timed


def test_records_accepted_by_the_api_and_applied_by_the_consumer_are_counted(
    api_client: TestClient, write_key: str, worker_metrics: str
) -> None:
    accepted_before = value(api_metrics(api_client), "xeno_ingest_accepted_records_total", kind="customers")
    applied_before = value(scrape(worker_metrics), "xeno_ingest_applied_records_total", outcome="applied")
    customers = [{"external_id": f"cus_{n}", "email": f"c{n}@shop.example"} for n in range(3)]

    answer = api_client.post("/v1/customers", json=customers, headers={"Authorization": f"Bearer {write_key}"})
    assert answer.status_code == 202
    drain_ingest_stream()

    accepted = value(api_metrics(api_client), "xeno_ingest_accepted_records_total", kind="customers")
    assert accepted == accepted_before + 3
    assert value(scrape(worker_metrics), "xeno_ingest_applied_records_total", outcome="applied") == applied_before + 3


def test_the_pipelines_streams_dead_letters_and_snapshot_age_are_reported(
    api_client: TestClient, database: Engine, data_dir: Path
) -> None:
    materialize_features(database, data_dir / "snapshots")
    with database.begin() as conn:
        deadletters.record(conn, "1-0", "customers", orjson.dumps({"external_id": "x"}).decode(), "too long")

    samples = api_metrics(api_client)

    lags = {(labels["stream"], labels["group"]) for labels, _ in samples["xeno_stream_lag_seconds"]}
    assert {("ingest", "appliers"), ("delivery", "senders"), ("receipts", "receipt-appliers")} <= lags
    states = {(labels["stream"], labels["state"]) for labels, _ in samples["xeno_stream_entries"]}
    assert ("ingest", "undelivered") in states
    assert value(samples, "xeno_ingest_dead_letters") == 1
    [(_, age)] = samples["xeno_feature_snapshot_age_seconds"]
    assert 0 <= age < 600


def test_without_dagster_the_metrics_say_it_is_down_and_report_the_rest(
    api_client: TestClient, configure: Callable[..., Settings]
) -> None:
    configure(XENO_DAGSTER_URL=f"http://127.0.0.1:{free_port()}")

    samples = api_metrics(api_client)

    assert value(samples, "xeno_dagster_up") == 0
    assert "xeno_stream_lag_seconds" in samples


def test_dagsters_failed_runs_are_counted_by_job_and_status(api_client: TestClient, dagster_home: Path) -> None:
    fail_an_ingest_run()

    samples = api_metrics(api_client)

    assert value(samples, "xeno_dagster_up") == 1
    assert value(samples, "xeno_dagster_recent_runs", job="ingest_stream_job", status="FAILURE") == 1


def test_with_metrics_off_nothing_is_counted_and_metrics_are_not_served(
    database: Engine, redis_client: redis.Redis, configure: Callable[..., Settings]
) -> None:
    configure(XENO_METRICS_ENABLED="false")
    labels = {"method": "GET", "route": "/health", "status": "200"}
    before = REGISTRY.get_sample_value("xeno_http_requests_total", labels) or 0.0

    with TestClient(create_app()) as client:
        assert client.get("/health").status_code == 200
        answer = client.get("/metrics")

    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"
    assert (REGISTRY.get_sample_value("xeno_http_requests_total", labels) or 0.0) == before
