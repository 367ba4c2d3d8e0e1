"""An OTLP/HTTP trace receiver that decodes every export and keeps only a count of its spans: the collector of the
observability benchmark, run in the benchmark's process.

It speaks OTLP/HTTP with protobuf bodies, as the SDK's exporter sends them (`POST /v1/traces`, an
`ExportTraceServiceRequest`, answered with an empty `ExportTraceServiceResponse`), so a measurement with tracing on
pays for what a real deployment pays: building, batching, encoding and posting every span.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


class SpanCount:
    """How many spans the receiver took, across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.spans = 0

    def add(self, request: ExportTraceServiceRequest) -> None:
        found = sum(len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans)
        with self._lock:
            self.spans += found


@contextmanager
def otlp_sink() -> Iterator[tuple[str, SpanCount]]:
    """A receiver on a loopback port while the block runs: its traces endpoint and its count."""
    count = SpanCount()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path != "/v1/traces":
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            count.add(ExportTraceServiceRequest.FromString(body))
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            """No line per export."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="otlp-sink", daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", count
    finally:
        server.shutdown()
