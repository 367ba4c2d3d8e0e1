"""Whether a process can do its work: the checks behind the API's `GET /ready` and the workers' `GET /health`.

A worker has no web server of its own, so a small one (the standard library's, in a daemon thread beside the
worker loop) answers `GET /health` on the loopback port `xeno up` gives each (`XENO_HEALTH_PORT`): it lets `xeno up`
wait until a worker is ready, as it waits for the API, and lets an operator ask. 200 when Postgres and Redis
answer, 503 naming the one that does not; and `GET /metrics`, the worker's Prometheus metrics. The API's `/ready`
adds that the database's schema is the code's.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy import Engine, text

from engine.migrate import code_heads, database_revisions

log = logging.getLogger(__name__)


def health_report(db: Engine, client: redis.Redis) -> dict[str, str]:
    """`status` (`ok` or `degraded`), and `ok` or `unavailable: <error>` for `postgres` and for `redis`."""
    return _report(_server_checks(db, client))


def readiness_report(db: Engine, client: redis.Redis) -> dict[str, str]:
    """`health_report`, plus `migrations`: `ok` when the database is migrated to the code's newest revision."""
    return _report({**_server_checks(db, client), "migrations": _check(lambda: _at_head(db))})


def _server_checks(db: Engine, client: redis.Redis) -> dict[str, str]:
    return {"postgres": _check(lambda: _select_one(db)), "redis": _check(client.ping)}


def _report(checks: dict[str, str]) -> dict[str, str]:
    return {"status": "ok" if all(value == "ok" for value in checks.values()) else "degraded", **checks}


class SchemaBehind(RuntimeError):
    """The database is not migrated to the code's newest revision."""


def _at_head(db: Engine) -> None:
    current, heads = database_revisions(db), code_heads()
    if current != heads:
        raise SchemaBehind(f"database at {', '.join(sorted(current)) or 'nothing'}, code at {', '.join(sorted(heads))}")


def _select_one(db: Engine) -> None:
    with db.connect() as conn:
        conn.execute(text("SELECT 1"))


def _check(probe: Callable[[], object]) -> str:
    try:
        probe()
    except SchemaBehind as behind:
        return f"behind: {behind}"
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
            if self.path == "/metrics":
                self._answer(HTTPStatus.OK, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
                return
            if self.path != "/health":
                self._answer_json(HTTPStatus.NOT_FOUND, {"error": "not_found", "detail": f"no {self.path} here"})
                return
            report = health_report(db, client)
            ok = report["status"] == "ok"
            self._answer_json(HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE, {**report, "worker": worker})

        def _answer_json(self, status: HTTPStatus, body: dict[str, str]) -> None:
            self._answer(status, json.dumps(body).encode(), "application/json")

        def _answer(self, status: HTTPStatus, payload: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            """Probes come several times a second while `xeno up` waits: no access log (errors still log)."""

    return HealthHandler
