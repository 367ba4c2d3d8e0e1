"""OpenTelemetry tracing: off by default, on with the standard OTEL_* environment, carried across the streams.

A process starts it once (`start_tracing`): the API in `create_app`, each worker in its command. It is on when
`OTEL_TRACES_EXPORTER` names an exporter (`otlp`, or `console` to see spans on stderr) or an OTLP endpoint is set
(`OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`); `OTEL_SDK_DISABLED=true` or
`OTEL_TRACES_EXPORTER=none` keeps it off. The exporter, sampler, headers and service name follow the SDK's own
variables. Then SQLAlchemy, Redis, httpx and aiohttp calls become spans (FastAPI's are added by the API).

Without `OTEL_TRACES_SAMPLER`, a process keeps 1% of new traces (`DEFAULT_TRACE_SAMPLE`), and a trace begun
elsewhere as its parent decided (`parentbased_traceidratio`): an ingest request is a few milliseconds of work, and
recording, encoding and exporting its spans added half as much CPU again (`bench.observability`); sampled, tracing
costs the API a few percent. `OTEL_TRACES_SAMPLER=parentbased_always_on` keeps every trace.

The trace crosses the streams in the entries themselves: `engine.streams` writes the W3C `traceparent` of the span
that publishes an entry beside its payload, and a consumer's span for the batch it applies is a child of its first
entry's trace and links to every entry's (`consume_span`), so an ingest request's trace continues in the consumer,
and a campaign launch's in the sender.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import propagate, trace
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter, SpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import Link, NoOpTracerProvider, Span, SpanKind

__all__ = ["Span", "consume_span", "inject_context", "start_tracing", "stop_tracing", "tracer", "tracing_configured"]

DEFAULT_TRACE_SAMPLE = 0.01
INSTRUMENTORS = (SQLAlchemyInstrumentor, RedisInstrumentor, HTTPXClientInstrumentor, AioHttpClientInstrumentor)
_provider: trace.TracerProvider = NoOpTracerProvider()


def tracing_configured(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the standard OTEL_* variables ask for traces."""
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true" or exporter == "none":
        return False
    endpoints = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    return bool(exporter) or any(environ.get(name) for name in endpoints)


def _exporter(environ: Mapping[str, str]) -> SpanExporter:
    name = environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if name == "console":
        return ConsoleSpanExporter()
    if name != "otlp":
        raise ValueError(f"OTEL_TRACES_EXPORTER={name!r} is not supported here: use otlp, console or none")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # only when exporting

    return OTLPSpanExporter()


def default_sampler(environ: Mapping[str, str]) -> Sampler | None:
    """The sampler of a process traced from the environment: None when `OTEL_TRACES_SAMPLER` names one (the SDK
    reads it), else `DEFAULT_TRACE_SAMPLE` of new traces."""
    if environ.get("OTEL_TRACES_SAMPLER", "").strip():
        return None
    return ParentBased(TraceIdRatioBased(DEFAULT_TRACE_SAMPLE))


def start_tracing(service: str, processor: SpanProcessor | None = None) -> trace.TracerProvider | None:
    """Trace this process as `service` when configured (or to `processor`, as tests do, every trace kept unless
    `OTEL_TRACES_SAMPLER` says otherwise); the provider, or None when tracing is off. Instruments SQLAlchemy, Redis,
    httpx and aiohttp; once per process."""
    global _provider
    if isinstance(_provider, TracerProvider):
        return _provider
    sampler = None
    if processor is None:
        if not tracing_configured():
            return None
        processor = BatchSpanProcessor(_exporter(os.environ))
        sampler = default_sampler(os.environ)
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}), sampler=sampler)
    provider.add_span_processor(processor)
    for instrumentor in INSTRUMENTORS:
        # SQLAlchemy's instrumentation declares support up to 2.0 and refuses 2.1 unasked; it works with it.
        instrumentor().instrument(tracer_provider=provider, skip_dep_check=True)
    _provider = provider
    return provider


def stop_tracing() -> None:
    """Flush and stop the process's tracing (at exit, and between tests)."""
    global _provider
    if isinstance(_provider, TracerProvider):
        for instrumentor in INSTRUMENTORS:
            instrumentor().uninstrument()
        _provider.shutdown()
    _provider = NoOpTracerProvider()


def tracer() -> trace.Tracer:
    """The product's own tracer (a no-op one while tracing is off)."""
    return _provider.get_tracer("xeno")


def inject_context(carrier: dict[str, str]) -> dict[str, str]:
    """`carrier` with the W3C trace context of the current span (`traceparent`, `tracestate`), if there is one."""
    propagate.inject(carrier)
    return carrier


@contextmanager
def consume_span(
    name: str, carriers: Iterable[Mapping[str, str]], attributes: Mapping[str, str | int]
) -> Iterator[Span]:
    """A consumer span for one batch of stream entries, whose trace contexts are `carriers`: a child of the first
    entry's trace, linked to each entry's."""
    if not isinstance(_provider, TracerProvider):
        yield trace.INVALID_SPAN
        return
    contexts = [trace.get_current_span(propagate.extract(carrier)).get_span_context() for carrier in carriers]
    valid = [context for context in contexts if context.is_valid]
    parent = trace.set_span_in_context(trace.NonRecordingSpan(valid[0])) if valid else None
    links = [Link(context) for context in valid]
    with tracer().start_as_current_span(
        name, context=parent, kind=SpanKind.CONSUMER, links=links, attributes=attributes
    ) as span:
        yield span
