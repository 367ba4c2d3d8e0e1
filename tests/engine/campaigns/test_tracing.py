"""A campaign launch's trace continues in the sender that posts its messages: the delivery stream's entries carry
the launch's W3C trace context, and the sender's span for each entry is in that trace."""

from __future__ import annotations

import asyncio

import redis
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Engine

from engine.campaigns.queue import STREAM
from engine.campaigns.sender import run_sender
from engine.observability.tracing import tracer
from tests.engine.campaigns.conftest import Vendor
from tests.engine.campaigns.helpers import delivery_settings, features, launch


def test_the_sender_continues_the_trace_of_the_launch_that_queued_its_messages(
    spans: InMemorySpanExporter, database: Engine, redis_client: redis.Redis, start_vendor: Vendor
) -> None:
    url, _ = start_vendor()
    settings = delivery_settings(url, delivery_batch_size=100)
    with tracer().start_as_current_span("launch campaign") as launching:
        launch(database, redis_client, settings, features(250))

    report = asyncio.run(run_sender(database, redis_client, settings, consumer="tests", until_idle=True))

    assert report.sent == 250
    sending = [span for span in spans.get_finished_spans() if span.name == f"process {settings.stream(STREAM)}"]
    assert len(sending) == 3
    assert {span.context.trace_id for span in sending} == {launching.get_span_context().trace_id}
    assert all(
        span.parent is not None and span.parent.span_id == launching.get_span_context().span_id for span in sending
    )
