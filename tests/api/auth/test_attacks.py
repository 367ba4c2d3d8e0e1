"""Attacks on our own tokens and credentials that must fail, each answered 401 or 403 in the error shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from engine.auth.access_tokens import AUDIENCE, ISSUER, signing_key
from engine.keys import create_key
from engine.settings import get_settings
from tests.api.auth.helpers import bearer, dev_sign_in, spent_long_ago


def forged_admin_claims(victim: dict[str, Any]) -> dict[str, Any]:
    """The claims of the victim's own token, promoted to admin."""
    claims = jwt.decode(victim["access_token"], options={"verify_signature": False})
    return claims | {"role": "admin"}


def test_a_token_signed_with_another_key_is_refused(client: TestClient) -> None:
    viewer = dev_sign_in(client, "viewer@shop.example", "viewer")
    forged = jwt.encode(forged_admin_claims(viewer), "a-guessed-secret-that-is-long-enough!!", algorithm="HS256")

    answer = client.get("/v1/admin/users", headers=bearer(forged))

    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthorized"
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_an_unsigned_token_with_alg_none_is_refused(client: TestClient) -> None:
    viewer = dev_sign_in(client, "viewer@shop.example", "viewer")
    unsigned = jwt.encode(forged_admin_claims(viewer), "", algorithm="none")

    answer = client.get("/v1/admin/users", headers=bearer(unsigned))

    assert answer.status_code == 401
    assert "not 'none'" in answer.json()["detail"]


def test_an_expired_token_is_refused(client: TestClient) -> None:
    admin = dev_sign_in(client, "admin@shop.example", "admin")
    past = datetime.now(UTC) - timedelta(hours=1)
    claims = jwt.decode(admin["access_token"], options={"verify_signature": False})
    expired = jwt.encode(
        claims | {"iat": past, "exp": past + timedelta(minutes=15), "iss": ISSUER, "aud": AUDIENCE},
        signing_key(get_settings()),
        algorithm="HS256",
    )

    answer = client.get("/v1/admin/users", headers=bearer(expired))

    assert answer.status_code == 401
    assert "expired" in answer.json()["detail"]


def test_a_refresh_token_reused_after_rotation_ends_the_session(client: TestClient, database: Engine) -> None:
    first = dev_sign_in(client, "ana@shop.example", "analyst")
    second = client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    spent_long_ago(database)

    reuse = client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})

    assert reuse.status_code == 401
    assert "already used" in reuse.json()["detail"]
    assert client.get("/v1/auth/me", headers=bearer(second["access_token"])).status_code == 401
    assert client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}).status_code == 401


def test_a_write_key_is_refused_on_a_route_that_is_not_ingestion(client: TestClient, database: Engine) -> None:
    key = create_key(database, "web shop").secret

    as_bearer = client.get("/v1/admin/keys", headers=bearer(key))
    as_basic = client.get("/v1/auth/me", auth=(key, ""))

    assert (as_bearer.status_code, as_basic.status_code) == (403, 403)
    assert as_bearer.json() == {
        "error": "forbidden",
        "detail": "write keys can only ingest; this route needs a signed-in user",
    }


def test_a_user_token_is_not_a_write_key(client: TestClient) -> None:
    admin = dev_sign_in(client, "admin@shop.example", "admin")

    answer = client.post("/v1/customers", json={"external_id": "c-1"}, headers=bearer(admin["access_token"]))

    assert answer.status_code == 403
    assert answer.json()["detail"] == "ingestion takes a write key, not a user's token"


def test_a_viewer_cannot_use_an_admin_route(client: TestClient) -> None:
    viewer = dev_sign_in(client, "viewer@shop.example", "viewer")

    answer = client.post("/v1/admin/keys", json={"name": "mine now"}, headers=bearer(viewer["access_token"]))

    assert answer.status_code == 403
    assert answer.json()["detail"] == "this needs the admin role (or a higher one); you are a viewer"


def test_a_token_for_a_session_that_was_signed_out_is_refused(client: TestClient) -> None:
    ana = dev_sign_in(client, "ana@shop.example", "analyst")
    client.post("/v1/auth/logout", json={"refresh_token": ana["refresh_token"]})

    assert client.get("/v1/auth/me", headers=bearer(ana["access_token"])).status_code == 401


def test_a_malformed_authorization_header_is_refused(client: TestClient) -> None:
    for header in ("Bearer", "Token abc", "Bearer not-a-jwt", "Basic !!!"):
        answer = client.get("/v1/auth/me", headers={"Authorization": header})
        assert answer.status_code == 401, header
