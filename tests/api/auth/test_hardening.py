"""The API as a whole: bodies capped (by Content-Length and while streaming), CORS for the dashboard only,
and no stack trace ever reaches a client."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.errors import install_error_handlers
from engine.settings import Settings
from tests.api.auth.helpers import loopback_client

DASHBOARD = "http://localhost:8501"


def chunks(total: int, size: int = 256) -> Iterator[bytes]:
    """A body sent without Content-Length, as a streaming client does."""
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


def test_a_body_declared_too_large_is_refused_before_it_is_read(
    configure: Callable[..., Settings], auth_settings: Settings
) -> None:
    configure(MAX_REQUEST_BYTES="1000")
    with loopback_client() as client:
        answer = client.post("/v1/auth/refresh", content=b"{" + b" " * 1000 + b"}")

    assert answer.status_code == 413
    assert answer.json() == {"error": "payload_too_large", "detail": "the request body is limited to 1000 bytes"}


def test_a_streamed_body_is_cut_off_at_the_limit(configure: Callable[..., Settings], auth_settings: Settings) -> None:
    configure(MAX_REQUEST_BYTES="1000")
    with loopback_client() as client:
        answer = client.post("/v1/auth/dev-login", content=chunks(5000), headers={"Content-Type": "application/json"})

    assert answer.status_code == 413
    assert answer.json()["error"] == "payload_too_large"


def test_a_streamed_body_within_the_limit_goes_through(
    configure: Callable[..., Settings], auth_settings: Settings
) -> None:
    configure(MAX_REQUEST_BYTES="1000")
    body = b'{"email": "dev@example.com", "role": "viewer"}'
    with loopback_client() as client:
        answer = client.post(
            "/v1/auth/dev-login", content=iter([body[:10], body[10:]]), headers={"Content-Type": "application/json"}
        )

    assert answer.status_code == 200


def test_the_dashboard_origin_may_call_the_api_from_a_browser(client: TestClient) -> None:
    preflight = client.options(
        "/v1/auth/me",
        headers={"Origin": DASHBOARD, "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"},
    )  # fmt: skip

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == DASHBOARD
    exposed = client.get("/health", headers={"Origin": DASHBOARD}).headers["access-control-expose-headers"]
    assert "Retry-After" in exposed


def test_other_origins_are_refused_in_the_usual_error_shape(client: TestClient) -> None:
    preflight = client.options(
        "/v1/auth/me", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    simple = client.get("/health", headers={"Origin": "https://evil.example"})

    assert preflight.status_code == 400
    assert preflight.json()["error"] == "cors_refused"
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in simple.headers


def test_an_unexpected_error_is_a_bare_500_without_a_stack_trace() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("connection string postgresql://admin:hunter2@db")

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/boom")

    assert answer.status_code == 500
    assert answer.json() == {"error": "internal_error", "detail": "An unexpected error occurred; it has been logged."}
    assert "hunter2" not in answer.text
    assert "Traceback" not in answer.text
