"""The ingest stream's writer: kept connections, concurrent requests side by side on several, one opened again when
closed, its XADD traced as Redis's instrumentation traced it."""

from __future__ import annotations

import asyncio
from typing import Any

import redis
import redis.asyncio
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import Engine

from api.ingest.publish import StreamWriter
from api.main import create_app
from engine.settings import get_settings

MESSAGE = {"type": "track", "userId": "u1", "event": "Product Viewed"}


def test_concurrent_xadds_go_out_side_by_side_and_each_gets_the_id_of_its_own_entry(
    redis_client: redis.Redis,
) -> None:
    stream = get_settings().stream("tests-writer")

    async def write() -> list[str]:
        client = redis.asyncio.Redis.from_url(get_settings().redis_address)
        try:
            writer = StreamWriter(client)
            written = await asyncio.gather(*(writer.xadd(stream, {b"payload": str(n).encode()}) for n in range(50)))
            assert len(writer.idle) > 1  # none waited for another's answer
            kept = len(writer.idle)
            await asyncio.gather(*(writer.xadd(stream, {b"payload": b"again"}) for _ in range(kept)))
            assert len(writer.idle) == kept  # the kept ones were taken again: no more were opened
            return list(written)
        finally:
            await client.aclose()

    entry_ids = asyncio.run(write())

    entries: Any = redis_client.xrange(stream)
    payload_of = {entry_id.decode(): fields[b"payload"] for entry_id, fields in entries}
    assert [payload_of[entry_id] for entry_id in entry_ids] == [str(n).encode() for n in range(50)]


def test_an_xadd_after_redis_closed_the_kept_connection_lands_once(redis_client: redis.Redis) -> None:
    stream = get_settings().stream("tests-writer")

    async def write() -> list[str]:
        client = redis.asyncio.Redis.from_url(get_settings().redis_address)
        try:
            writer = StreamWriter(client)
            first = await writer.xadd(stream, {b"payload": b"before"})
            [connection] = writer.idle
            await connection.send_command("CLIENT", "ID")
            redis_client.client_kill_filter(_id=await connection.read_response())
            return [first, await writer.xadd(stream, {b"payload": b"after"})]
        finally:
            await client.aclose()

    entry_ids = asyncio.run(write())

    entries: Any = redis_client.xrange(stream)
    assert [(entry_id.decode(), fields[b"payload"]) for entry_id, fields in entries] == [
        (entry_ids[0], b"before"),
        (entry_ids[1], b"after"),
    ]


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
