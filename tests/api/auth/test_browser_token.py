"""The browser's refresh token: a second rotation chain in the session, for the dashboard's http-only cookie."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.api.auth.helpers import bearer, dev_sign_in, spent_long_ago


def signed_in(client: TestClient) -> dict[str, Any]:
    return dev_sign_in(client, "ana@shop.example", "marketer")


def browser_token(client: TestClient, access_token: str) -> str:
    answer = client.post("/v1/auth/browser-token", headers=bearer(access_token))
    assert answer.status_code == 200
    assert answer.json()["expires_in"] > 0
    token: str = answer.json()["refresh_token"]
    return token


def refreshed(client: TestClient, refresh_token: str) -> dict[str, Any]:
    answer = client.post("/v1/auth/refresh", json={"refresh_token": refresh_token})
    assert answer.status_code == 200, answer.text
    pair: dict[str, Any] = answer.json()
    return pair


def test_the_browser_and_the_server_rotate_their_tokens_without_spending_each_others(client: TestClient) -> None:
    server = signed_in(client)
    in_cookie = browser_token(client, server["access_token"])

    server = refreshed(client, server["refresh_token"])
    after_reload = refreshed(client, in_cookie)
    server = refreshed(client, server["refresh_token"])

    assert after_reload["user"]["email"] == "ana@shop.example"
    assert client.get("/v1/auth/me", headers=bearer(server["access_token"])).status_code == 200


def test_two_tabs_opening_at_once_with_the_same_cookie_both_stay_signed_in(client: TestClient) -> None:
    server = signed_in(client)
    in_cookie = browser_token(client, server["access_token"])

    first_tab, second_tab = refreshed(client, in_cookie), refreshed(client, in_cookie)

    assert first_tab["refresh_token"] != second_tab["refresh_token"]
    for tab in (first_tab, second_tab, server):
        assert client.get("/v1/auth/me", headers=bearer(tab["access_token"])).status_code == 200


def test_a_cookie_token_presented_again_after_the_reuse_interval_ends_the_session(
    client: TestClient, database: Engine
) -> None:
    server = signed_in(client)
    in_cookie = browser_token(client, server["access_token"])
    refreshed(client, in_cookie)
    spent_long_ago(database)

    assert client.post("/v1/auth/refresh", json={"refresh_token": in_cookie}).status_code == 401
    assert client.get("/v1/auth/me", headers=bearer(server["access_token"])).status_code == 401


def test_signing_out_ends_the_cookie_token_too(client: TestClient) -> None:
    server = signed_in(client)
    in_cookie = browser_token(client, server["access_token"])

    assert client.post("/v1/auth/logout", json={"refresh_token": server["refresh_token"]}).status_code == 204

    answer = client.post("/v1/auth/refresh", json={"refresh_token": in_cookie})
    assert answer.status_code == 401
    assert "ended" in answer.json()["detail"]


def test_it_needs_a_signed_in_user(client: TestClient) -> None:
    assert client.post("/v1/auth/browser-token").status_code == 401
