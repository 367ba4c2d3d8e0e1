"""What an operator sees of a request: its trace continued by the consumer that applies what it posted (W3C
`traceparent` through the stream), its request id in and out, and JSON log lines that carry the id and the user
and never a secret of the settings."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import orjson
import pytest
import redis
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import Engine

from api.main import create_app
from engine.observability.logs import ProductHandler
from engine.observability.tracing import DEFAULT_TRACE_SAMPLE, default_sampler, tracing_configured
from engine.settings import Settings, get_settings
from tests.fixtures.api import drain_ingest_stream
from tests.fixtures.users import auth_headers

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CUSTOMERS = [{"external_id": "cus_1", "email": "one@shop.example"}]


def test_an_ingest_requests_trace_continues_in_the_consumer_that_applies_it(
    spans: InMemorySpanExporter, database: Engine, redis_client: redis.Redis, write_key: str
) -> None:
    headers = {"Authorization": f"Bearer {write_key}", "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}
    with TestClient(create_app()) as client:
        assert client.post("/v1/customers", json=CUSTOMERS, headers=headers).status_code == 202

    assert drain_ingest_stream().applied == 1

    finished = spans.get_finished_spans()
    [request] = [span for span in finished if span.kind == SpanKind.SERVER]
    assert f"{request.context.trace_id:032x}" == TRACE_ID
    assert (request.name, dict(request.attributes or {})["http.route"]) == ("POST /v1/customers", "/v1/customers")
    [consumer] = [span for span in finished if span.name == f"process {get_settings().stream('ingest')}"]
    assert f"{consumer.context.trace_id:032x}" == TRACE_ID
    assert [f"{link.context.trace_id:032x}" for link in consumer.links] == [TRACE_ID]
    assert dict(consumer.attributes or {})["messaging.batch.message_count"] == 1


def test_tracing_is_off_unless_the_standard_environment_asks_for_it() -> None:
    assert not tracing_configured({})
    assert tracing_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing_configured({"OTEL_TRACES_EXPORTER": "console"})
    assert not tracing_configured({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"})
    assert not tracing_configured({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"})


def test_traces_are_sampled_unless_the_standard_environment_names_a_sampler() -> None:
    sampler = default_sampler({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})

    assert sampler is not None
    assert sampler.get_description().startswith(f"ParentBased{{root:TraceIdRatioBased{{{DEFAULT_TRACE_SAMPLE}}},")
    assert default_sampler({"OTEL_TRACES_SAMPLER": "parentbased_always_on"}) is None


@pytest.fixture
def product_logging() -> Iterator[None]:
    """The root logger as it was, once a test's API has configured the process's logging."""
    root = logging.getLogger()
    level = root.level
    yield
    root.handlers[:] = [handler for handler in root.handlers if not isinstance(handler, ProductHandler)]
    root.setLevel(level)


@pytest.mark.usefixtures("product_logging")
def test_a_request_id_is_answered_and_carried_by_the_requests_log_lines_with_the_user(
    database: Engine, redis_client: redis.Redis, configure: Callable[..., Settings], capfd: pytest.CaptureFixture[str]
) -> None:
    configure(XENO_LOG_FORMAT="json", XENO_LOG_LEVEL="debug")
    headers = {**auth_headers(database, "analyst"), "X-Request-ID": "req-42"}

    with TestClient(create_app()) as client:
        given = client.get("/v1/segments", headers=headers)
        made_up = client.get("/health", headers={"X-Request-ID": "not\tsensible"})

    assert given.headers["X-Request-ID"] == "req-42"
    assert made_up.headers["X-Request-ID"] not in ("", "not\tsensible")
    lines = [orjson.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    [access] = [line for line in lines if line.get("request_id") == "req-42" and line["logger"] == "api.requests"]
    assert (access["level"], access["message"].split()[:3]) == ("DEBUG", ["GET", "/v1/segments", "200"])
    assert isinstance(access["user_id"], int)


SECRETS = {
    "XENO_SECRET_KEY": "the-installations-secret-3d9f",
    "XENO_TWILIO_AUTH_TOKEN": "twilio-token-51ce",
    "XENO_SMTP_PASSWORD": "smtp-pass-4f1c",
    "XENO_META_TOKEN": "meta-token-9e2a",
    "XENO_AI_API_KEY": "sk-ai-key-77b0",
    "XENO_RECEIPTS_WEBHOOK_SECRET": "whsec_c2VjcmV0LXJlY2VpcHRzLWtleQ==",
}


@pytest.mark.usefixtures("product_logging")
def test_the_logs_of_a_request_never_show_a_secret_of_the_settings(
    database: Engine, redis_client: redis.Redis, configure: Callable[..., Settings], capfd: pytest.CaptureFixture[str]
) -> None:
    configure(XENO_LOG_FORMAT="json", XENO_LOG_LEVEL="debug", **SECRETS)

    with TestClient(create_app()) as client:
        client.get("/v1/segments", headers=auth_headers(database, "analyst"))

    logged = capfd.readouterr().err
    [shown] = [orjson.loads(line) for line in logged.splitlines() if line.startswith('{"') and "settings: " in line]
    assert "smtp_password=SecretStr('**********')" in shown["message"]
    for secret in SECRETS.values():
        assert secret not in logged
