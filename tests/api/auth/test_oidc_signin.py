"""The browser sign-in end to end against a real OpenID provider on loopback: authorization code with PKCE,
our tokens, refresh rotation and sign-out."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from engine.auth import audit
from tests.api.auth.helpers import bearer
from tests.engine.auth.provider import ANA, BOSS, EVE, UNVERIFIED, authorize


def sign_in_through_the_provider(client: TestClient, who: str) -> tuple[int, dict]:
    """What a browser does: /login, sign in at the provider, follow it back to /callback."""
    start = client.get("/v1/auth/login", follow_redirects=False)
    assert start.status_code == 302
    back = urlsplit(authorize(start.headers["location"], who))
    answer = client.get(f"{back.path}?{back.query}")
    return answer.status_code, answer.json()


def test_signing_in_refreshing_and_signing_out_with_the_provider(client: TestClient, database: Engine) -> None:
    status, tokens = sign_in_through_the_provider(client, ANA)

    assert status == 200
    assert tokens["token_type"] == "Bearer"
    assert 0 < tokens["expires_in"] <= 900
    assert tokens["user"] == tokens["user"] | {"email": ANA, "name": "Ana Lima", "role": "viewer"}
    me = client.get("/v1/auth/me", headers=bearer(tokens["access_token"]))
    assert (me.status_code, me.json()["email"]) == (200, ANA)

    rotated = client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    fresh = rotated.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert client.get("/v1/auth/me", headers=bearer(fresh["access_token"])).status_code == 200

    assert client.post("/v1/auth/logout", json={"refresh_token": fresh["refresh_token"]}).status_code == 204
    assert client.get("/v1/auth/me", headers=bearer(fresh["access_token"])).status_code == 401
    assert client.post("/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]}).status_code == 401
    actions = [entry.action for entry in reversed(audit.list_entries(database))]
    assert actions == [audit.USER_SIGNED_IN, audit.USER_SIGNED_OUT]


def test_the_sign_in_request_carries_pkce_a_nonce_and_a_state_bound_to_the_browser(client: TestClient) -> None:
    start = client.get("/v1/auth/login", follow_redirects=False)

    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["nonce"][0]
    assert query["redirect_uri"] == ["http://127.0.0.1:8000/v1/auth/callback"]
    cookie = start.headers["set-cookie"]
    assert f"xeno_login_state={query['state'][0]}" in cookie
    assert "HttpOnly" in cookie


def test_an_admin_listed_address_signs_in_as_admin(client: TestClient) -> None:
    status, tokens = sign_in_through_the_provider(client, BOSS)

    assert (status, tokens["user"]["role"]) == (200, "admin")


def test_an_address_outside_the_allowed_domains_is_refused_clearly(client: TestClient) -> None:
    status, body = sign_in_through_the_provider(client, EVE)

    assert status == 403
    assert body["error"] == "forbidden"
    assert "elsewhere.example is not an allowed domain" in body["detail"]


def test_an_address_the_provider_has_not_verified_is_refused(client: TestClient) -> None:
    status, body = sign_in_through_the_provider(client, UNVERIFIED)

    assert (status, body["error"]) == (403, "forbidden")


def test_a_callback_that_was_not_started_in_this_browser_is_refused(client: TestClient) -> None:
    start = client.get("/v1/auth/login", follow_redirects=False)
    back = urlsplit(authorize(start.headers["location"], ANA))
    client.cookies.clear()  # the victim's browser, lured to the attacker's callback URL

    answer = client.get(f"{back.path}?{back.query}")

    assert answer.status_code == 400
    assert "not started from this browser" in answer.json()["detail"]


def test_a_callback_cannot_be_replayed(client: TestClient) -> None:
    start = client.get("/v1/auth/login", follow_redirects=False)
    back = urlsplit(authorize(start.headers["location"], ANA))
    state = parse_qs(back.query)["state"][0]
    assert client.get(f"{back.path}?{back.query}").status_code == 200

    client.cookies.set("xeno_login_state", state, domain="127.0.0.1", path="/v1/auth")
    replay = client.get(f"{back.path}?{back.query}")

    assert replay.status_code == 401
    assert "already finished" in replay.json()["detail"]


def test_the_provider_declining_the_sign_in_is_a_clear_refusal(client: TestClient) -> None:
    client.get("/v1/auth/login", follow_redirects=False)

    answer = client.get("/v1/auth/callback", params={"error": "access_denied", "state": "whatever"})

    assert answer.status_code == 403
    assert "access_denied" in answer.json()["detail"]
