"""Admins manage users, write keys and read the audit log over the API; every change is audited."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.auth.helpers import bearer, dev_sign_in


@pytest.fixture
def admin(client: TestClient) -> dict[str, str]:
    return bearer(dev_sign_in(client, "admin@shop.example", "admin")["access_token"])


def audit_actions(client: TestClient, admin: dict[str, str]) -> list[tuple[str, str, str | None]]:
    entries = client.get("/v1/admin/audit", headers=admin).json()
    return [(entry["actor"], entry["action"], entry["target"]) for entry in reversed(entries)]


def test_an_admin_adds_a_user_changes_their_role_and_disables_them(client: TestClient, admin: dict[str, str]) -> None:
    added = client.post("/v1/admin/users", json={"email": "ana@partner.example", "role": "analyst"}, headers=admin)
    assert (added.status_code, added.json()["role"]) == (201, "analyst")
    user_id = added.json()["id"]

    promoted = client.patch(f"/v1/admin/users/{user_id}", json={"role": "marketer"}, headers=admin)
    disabled = client.patch(f"/v1/admin/users/{user_id}", json={"disabled": True}, headers=admin)

    assert promoted.json()["role"] == "marketer"
    assert disabled.json()["disabled"] is True
    listed = {user["email"]: user for user in client.get("/v1/admin/users", headers=admin).json()}
    assert listed["ana@partner.example"]["role"] == "marketer"
    assert audit_actions(client, admin)[1:] == [
        ("admin@shop.example", "user.created", "ana@partner.example"),
        ("admin@shop.example", "user.role_changed", "ana@partner.example"),
        ("admin@shop.example", "user.disabled", "ana@partner.example"),
    ]


def test_the_role_change_is_recorded_with_before_and_after(client: TestClient, admin: dict[str, str]) -> None:
    ana = dev_sign_in(client, "ana@shop.example", "viewer")["user"]

    client.patch(f"/v1/admin/users/{ana['id']}", json={"role": "analyst"}, headers=admin)

    [entry] = client.get("/v1/admin/audit", params={"action": "user.role_changed"}, headers=admin).json()
    assert entry["detail"] == {"from": "viewer", "to": "analyst"}
    assert entry["ip"] == "127.0.0.1"


def test_disabling_a_user_signs_them_out_everywhere(client: TestClient, admin: dict[str, str]) -> None:
    ana = dev_sign_in(client, "ana@shop.example", "analyst")
    assert client.get("/v1/auth/me", headers=bearer(ana["access_token"])).status_code == 200

    client.patch(f"/v1/admin/users/{ana['user']['id']}", json={"disabled": True}, headers=admin)

    assert client.get("/v1/auth/me", headers=bearer(ana["access_token"])).status_code == 401
    assert client.post("/v1/auth/refresh", json={"refresh_token": ana["refresh_token"]}).status_code == 401


def test_an_admin_cannot_demote_or_disable_themselves(client: TestClient, admin: dict[str, str]) -> None:
    me = client.get("/v1/auth/me", headers=admin).json()

    demote = client.patch(f"/v1/admin/users/{me['id']}", json={"role": "viewer"}, headers=admin)
    disable = client.patch(f"/v1/admin/users/{me['id']}", json={"disabled": True}, headers=admin)

    assert (demote.status_code, disable.status_code) == (409, 409)
    assert client.get("/v1/auth/me", headers=admin).json()["role"] == "admin"


def test_adding_someone_twice_or_changing_a_stranger_is_a_clear_4xx(client: TestClient, admin: dict[str, str]) -> None:
    client.post("/v1/admin/users", json={"email": "ana@partner.example", "role": "analyst"}, headers=admin)

    twice = client.post("/v1/admin/users", json={"email": "ANA@partner.example", "role": "viewer"}, headers=admin)
    stranger = client.patch("/v1/admin/users/999999", json={"role": "viewer"}, headers=admin)

    assert (twice.status_code, twice.json()["error"]) == (409, "conflict")
    assert (stranger.status_code, stranger.json()["error"]) == (404, "not_found")


def test_a_write_key_is_created_shown_once_listed_without_secret_and_revoked(
    client: TestClient, admin: dict[str, str]
) -> None:
    created = client.post("/v1/admin/keys", json={"name": "web shop"}, headers=admin)
    assert created.status_code == 201
    secret, key_id = created.json()["secret"], created.json()["key"]["id"]
    assert secret.startswith("xk_")
    ingest = {"external_id": "c-1", "email": "c1@example.com"}
    assert client.post("/v1/customers", json=ingest, headers=bearer(secret)).status_code == 202

    listed = client.get("/v1/admin/keys", headers=admin)
    revoked = client.post(f"/v1/admin/keys/{key_id}/revoke", headers=admin)

    assert secret not in listed.text
    assert listed.json()[0]["name"] == "web shop"
    assert revoked.json()["revoked_at"] is not None
    assert client.post("/v1/customers", json=ingest, headers=bearer(secret)).status_code == 401
    assert [action for _, action, _ in audit_actions(client, admin)][1:] == ["key.created", "key.revoked"]
    assert client.post("/v1/admin/keys/424242/revoke", headers=admin).status_code == 404


def test_the_audit_log_pages_back_from_the_newest(client: TestClient, admin: dict[str, str]) -> None:
    for n in range(5):
        client.post("/v1/admin/keys", json={"name": f"key {n}"}, headers=admin)

    first_page = client.get("/v1/admin/audit", params={"limit": 2}, headers=admin).json()
    next_page = client.get("/v1/admin/audit", params={"limit": 2, "before_id": first_page[-1]["id"]}, headers=admin)

    assert [entry["detail"]["name"] for entry in first_page] == ["key 4", "key 3"]
    assert [entry["detail"]["name"] for entry in next_page.json()] == ["key 2", "key 1"]


@pytest.mark.parametrize("role", ["viewer", "analyst", "marketer"])
def test_only_admins_read_the_audit_log(client: TestClient, role: str) -> None:
    token = dev_sign_in(client, f"{role}@shop.example", role)["access_token"]

    assert client.get("/v1/admin/audit", headers=bearer(token)).status_code == 403
