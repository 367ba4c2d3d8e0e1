"""Every HTTP request the API answers, observed once: its request id, an access log line, and its metrics.

A plain ASGI middleware, so that it sees the status a route really sent (errors included) and the route template
FastAPI matched (`/v1/segments/{segment_id}`, not each id; `unmatched` for a path no route has). The request id is
the caller's `X-Request-ID` when it sends a sensible one (else a new one); it is answered in the same header and
carried by every log line of the request (`engine.observability.logs`), with the signed-in user once known. The
access line itself is DEBUG: at the usual INFO level a busy ingest API would spend its time writing them.
When tracing is on, `create_app` wraps the app in OpenTelemetry's ASGI middleware, which starts each request's span;
this one names it after the route FastAPI matched (`POST /v1/batch`, with `http.route`) as the response starts.
FastAPI's own instrumentation finds the route by matching every route again for each request: 1.5 ms a request here.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from opentelemetry import trace
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.observability.logs import log_context
from engine.observability.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = logging.getLogger("api.requests")
REQUEST_ID = "X-Request-ID"
SENSIBLE_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


def request_span_details(scope: Scope) -> tuple[str, dict[str, str]]:
    """A request span's name until it is routed: its method (`ObserveRequests` adds the route)."""
    return str(scope.get("method", "HTTP")), {}


def request_id(scope: Scope) -> str:
    """The caller's request id when it is a sensible one (at most 128 plain characters), else a new one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given = value.decode("latin-1")
            if SENSIBLE_ID.fullmatch(given):
                return given
    return uuid.uuid4().hex


class ObserveRequests:
    def __init__(self, app: ASGIApp, count: bool = True) -> None:
        self.app = app
        self.count = count  # XENO_METRICS_ENABLED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ident = request_id(scope)
        status = 500  # what the server answers when the app raises before it starts a response
        span = trace.get_current_span()  # the request's, when traced (it ends with the response)

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID] = ident
                if span.is_recording():
                    route = getattr(scope.get("route"), "path", "unmatched")
                    span.update_name(f"{scope['method']} {route}")
                    span.set_attribute("http.route", route)
            await send(message)

        started = time.perf_counter()
        with log_context(request_id=ident):
            try:
                await self.app(scope, receive, send_observed)
            finally:
                seconds = time.perf_counter() - started
                route = getattr(scope.get("route"), "path", "unmatched")
                if self.count:
                    HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
                    HTTP_LATENCY.labels(scope["method"], route).observe(seconds)
                log.debug("%s %s %d in %.1f ms", scope["method"], route, status, seconds * 1000)
