"""Signing in through the API in tests, and the headers that carry the result."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from api.main import create_app
from engine.schema import refresh_tokens
from engine.settings import get_settings

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


def spent_long_ago(database: Engine) -> None:
    """Every spent refresh token was spent before the reuse interval: presenting one again is reuse."""
    long_ago = datetime.now(UTC) - timedelta(seconds=get_settings().refresh_reuse_interval_s + 1)
    with database.begin() as conn:
        conn.execute(update(refresh_tokens).where(refresh_tokens.c.used_at.is_not(None)).values(used_at=long_ago))
