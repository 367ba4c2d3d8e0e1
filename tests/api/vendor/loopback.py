"""Loopback servers and small helpers for the vendor tests.

`serve` runs an ASGI app under uvicorn in a background thread on a port the OS picked. `ReceiptInbox`
stands in for the CRM's receipts endpoint: it verifies every callback's Standard Webhooks signature with
`engine.webhooks` and keeps what arrived, in arrival order.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import httpx
import orjson
import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from api.vendor.config import Faults
from engine.webhooks import WebhookVerificationError, verify

T = TypeVar("T")


def wait_until(ready: Callable[[], bool], result: Callable[[], T], timeout: float = 10) -> T:
    """`result()` once `ready()` holds; fails the test if it does not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout}s; last seen: {result()!r:.500}")
        time.sleep(0.02)
    return result()


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Run `app` on a free loopback port for the duration; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, lambda: "server start", timeout=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class StartVendor(Protocol):
    """The `start_vendor` fixture: a simulator with these faults and settings, as a client bound to it."""

    def __call__(self, faults: Faults | None = None, **settings: Any) -> httpx.Client: ...


@dataclass(frozen=True)
class ReceivedCallback:
    webhook_id: str
    receipts: list[dict[str, Any]]
    single: bool


@dataclass
class ReceiptInbox:
    """The CRM's receipts endpoint as the vendor sees it; `fail_next` answers that many with `fail_status`."""

    secret: str
    url: str = ""
    callbacks: list[ReceivedCallback] = field(default_factory=list)
    refused: int = 0
    fail_next: int = 0
    fail_status: int = 503
    failed_webhook_ids: list[str] = field(default_factory=list)

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        try:
            webhook_id = verify(self.secret, request.headers, body)
        except WebhookVerificationError:
            self.refused += 1
            return Response(status_code=401)
        if self.fail_next:
            self.fail_next -= 1
            self.failed_webhook_ids.append(webhook_id)
            return Response(status_code=self.fail_status)
        payload = orjson.loads(body)
        single = isinstance(payload, dict)
        self.callbacks.append(ReceivedCallback(webhook_id, [payload] if single else payload, single))
        return Response(status_code=204)

    def receipts(self) -> list[dict[str, Any]]:
        return [receipt for callback in self.callbacks for receipt in callback.receipts]

    def wait_for(self, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        """The receipts once at least `count` have arrived."""
        return wait_until(lambda: len(self.receipts()) >= count, self.receipts, timeout)


def message(n: int, *, channel: str = "sms", key_prefix: str = "k") -> dict[str, Any]:
    """The n-th test message, keyed `k<n>` and referenced `log-<n>`."""
    to = f"+9199{n:08d}" if channel == "sms" else f"user{n}@example.com"
    extra = {"subject": "Your offer"} if channel == "email" else {}
    return {
        "channel": channel,
        "to": to,
        "body": f"Hi customer {n}, here is 10% off on your next order!",
        "idempotency_key": f"{key_prefix}{n}",
        "reference": f"log-{n}",
        **extra,
    }


def send_batches(client: httpx.Client, messages: list[dict[str, Any]], size: int = 500) -> list[dict[str, Any]]:
    """Batch-send `messages`, returning the per-message results in order."""
    results: list[dict[str, Any]] = []
    for start in range(0, len(messages), size):
        response = client.post("/v1/messages/batch", json={"messages": messages[start : start + size]})
        assert response.status_code == 202, response.text
        results.extend(response.json()["messages"])
    return results


def stats(client: httpx.Client) -> dict[str, Any]:
    response = client.get("/v1/stats")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body
