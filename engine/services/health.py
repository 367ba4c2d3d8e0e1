"""`GET /health` for the long-lived workers, on the loopback port `xeno up` gives each (`XENO_HEALTH_PORT`).

A worker has no web server of its own, so this small one (the standard library's, in a daemon thread beside
the worker loop) lets `xeno up` wait until a worker is ready, as it waits for the API, and lets an operator ask.
It answers like the API's `/health`, from the same checks: 200 when Postgres and Redis answer, 503 naming the
one that does not.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis
from sqlalchemy import Engine, text

log = logging.getLogger(__name__)


def health_report(db: Engine, client: redis.Redis) -> dict[str, str]:
    """`status` (`ok` or `degraded`), and `ok` or `unavailable: <error>` for `postgres` and for `redis`."""
    checks = {"postgres": _check(lambda: _select_one(db)), "redis": _check(client.ping)}
    return {"status": "ok" if all(value == "ok" for value in checks.values()) else "degraded", **checks}


def _select_one(db: Engine) -> None:
    with db.connect() as conn:
        conn.execute(text("SELECT 1"))


def _check(probe: Callable[[], object]) -> str:
    try:
        probe()
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}"
    return "ok"


def serve_health(worker: str, port: int | None, db: Engine, client: redis.Redis) -> ThreadingHTTPServer | None:
    """Answer `GET /health` on loopback `port` from a daemon thread, checking `db` and `client`; nothing when no
    port is given."""
    if port is None:
        return None
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(worker, db, client))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    log.info("%s: health at http://127.0.0.1:%d/health", worker, port)
    return server


def _handler(worker: str, db: Engine, client: redis.Redis) -> type[BaseHTTPRequestHandler]:
    class HealthHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/health":
                self._answer(HTTPStatus.NOT_FOUND, {"error": "not_found", "detail": f"no {self.path} here"})
                return
            report = health_report(db, client)
            ok = report["status"] == "ok"
            self._answer(HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE, {**report, "worker": worker})

        def _answer(self, status: HTTPStatus, body: dict[str, str]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            """Probes come several times a second while `xeno up` waits: no access log (errors still log)."""

    return HealthHandler
