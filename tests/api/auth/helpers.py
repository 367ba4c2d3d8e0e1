"""Signing in through the API in tests, and the headers that carry the result."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.main import create_app

LOOPBACK = {"base_url": "http://127.0.0.1:8000", "client": ("127.0.0.1", 50000)}


def loopback_client() -> TestClient:
    """The API as a browser on this machine sees it: served on, and called from, a loopback address."""
    return TestClient(create_app(), **LOOPBACK)  # type: ignore[arg-type]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def dev_sign_in(client: TestClient, email: str, role: str) -> dict[str, Any]:
    answer = client.post("/v1/auth/dev-login", json={"email": email, "role": role})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())
