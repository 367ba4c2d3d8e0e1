"""What the running product tells its operators: Prometheus metrics, OpenTelemetry traces and structured logs.

Every process of the product calls `observe_process` as it starts (the API in `create_app`, each worker in its
command): logs as the settings say, and traces when the OTEL_* environment asks for them.
"""

from __future__ import annotations

from opentelemetry.trace import TracerProvider

from engine.garbage_collector import tune_garbage_collector
from engine.observability.logs import configure_logging
from engine.observability.tracing import start_tracing
from engine.settings import Settings


def observe_process(service: str, settings: Settings) -> TracerProvider | None:
    """Configure this process's logs and (when asked for) its tracing, as `service` (`xeno-api`, `xeno-deliver`);
    the tracer provider, or None while tracing is off. Also tunes its garbage collector (`engine.garbage_collector`),
    as this is the one call every process makes once it has started."""
    tune_garbage_collector()
    configure_logging(settings)
    return start_tracing(service)
