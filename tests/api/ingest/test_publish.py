"""The ingest stream's writer: its XADD is traced as a client span of the request."""

from __future__ import annotations

import redis
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import Engine

from api.main import create_app

MESSAGE = {"type": "track", "userId": "u1", "event": "Product Viewed"}


def test_a_traced_requests_xadd_is_its_child_span(
    spans: InMemorySpanExporter, database: Engine, redis_client: redis.Redis, write_key: str
) -> None:
    with TestClient(create_app()) as client:
        answer = client.post("/v1/batch", json={"batch": [MESSAGE]}, headers={"Authorization": f"Bearer {write_key}"})
        assert answer.status_code == 200

    finished = spans.get_finished_spans()
    [request] = [span for span in finished if span.kind == SpanKind.SERVER]
    [xadd] = [span for span in finished if span.name == "XADD"]
    assert xadd.kind == SpanKind.CLIENT
    assert xadd.parent is not None
    assert xadd.parent.span_id == request.context.span_id
