"""The product's logs: plain lines for a terminal, or one JSON object per line for a log pipeline, at a set level.

`XENO_LOG_FORMAT` (`text` or `json`) and `XENO_LOG_LEVEL` (DEBUG, INFO, WARNING, ...) choose; `configure_logging`
applies them to the root logger once a process starts. Each line carries what is known about the work it belongs
to: the request id (`X-Request-ID`), the signed-in user, the campaign (a launch, a sender's entry), the Dagster run
(the engine calls of a pipeline's ops), and the trace and span ids when traced.
That context is one mutable mapping per unit of work (`log_context`), so a value noted by a dependency running in a
worker thread (`note`) is still seen by the lines logged after it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

import orjson
from opentelemetry import trace

from engine.settings import Settings

_context: ContextVar[dict[str, str | int] | None] = ContextVar("xeno_log_context", default=None)
TEXT_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


@contextmanager
def log_context(**fields: str | int) -> Iterator[None]:
    """Lines logged in the block (and in tasks and threads it starts) carry `fields` and whatever is `note`d."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def note(**fields: str | int) -> None:
    """Add `fields` to the context of the work under way (nothing outside `log_context`)."""
    current = _context.get()
    if current is not None:
        current.update(fields)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the work's context, trace ids, error."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **(_context.get() or {}),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            line["trace_id"], line["span_id"] = f"{span.trace_id:032x}", f"{span.span_id:016x}"
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """The usual line, followed by the work's context as `key=value` pairs."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = _context.get()
        return f"{text} {' '.join(f'{key}={value}' for key, value in context.items())}" if context else text


class ProductHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a line is logged; told apart from a host's handlers (pytest's), which
    `configure_logging` leaves in place."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> TextIO:
        return sys.stderr


def configure_logging(settings: Settings) -> None:
    """Send the process's logs (uvicorn's included) to stderr in the chosen format, from the chosen level."""
    handler = ProductHandler()
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [*(old for old in root.handlers if not isinstance(old, ProductHandler)), handler]
    root.setLevel(settings.log_level)
    server = logging.getLogger("uvicorn")  # uvicorn gives its lines a handler of its own: one format for all
    server.handlers.clear()
    server.propagate = True
