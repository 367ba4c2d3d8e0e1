"""Every string the API hands to Postgres is held to what Postgres stores: a NUL character is a 422 naming the
parameter or field, never a 500 (`PostgreSQL text fields cannot contain NUL`)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from engine.features.snapshot import Snapshot
from tests.api.segments.conftest import client, loads, published, publisher  # noqa: F401
from tests.api.segments.data import BIG_SPENDERS
from tests.fixtures.users import auth_headers

NUL = "a\u0000b"
CAMPAIGN = {"name": "Hello", "channel": "sms", "template": "Hi {{ first_name }}", "audience_rule": BIG_SPENDERS}


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "where"),
    [
        ("GET", "/v1/customers", {"q": NUL}, None, "query.q"),
        ("GET", "/v1/customers", {"q": "\u0000"}, None, "query.q"),
        ("GET", "/v1/campaigns/1/messages", {"reason": NUL}, None, "query.reason"),
        ("GET", "/v1/campaigns", {"status": NUL}, None, "query.status"),
        ("GET", "/v1/admin/audit", {"action": NUL}, None, "query.action"),
        ("GET", "/v1/ai/calls", {"kind": NUL}, None, "query.kind"),
        ("POST", "/v1/segments", None, {"name": NUL, "rule": BIG_SPENDERS}, "body.name"),
        ("POST", "/v1/segments", None, {"name": "n", "description": NUL, "rule": BIG_SPENDERS}, "body.description"),
        ("PATCH", "/v1/segments/1", None, {"name": NUL}, "body.name"),
        ("POST", "/v1/campaigns", None, {**CAMPAIGN, "name": NUL}, "body.name"),
        ("PATCH", "/v1/campaigns/1", None, {"name": NUL}, "body.name"),
        ("POST", "/v1/ai/segment-rule", None, {"text": NUL}, "body.text"),
        ("POST", "/v1/ai/messages", None, {"objective": NUL, "channel": "sms"}, "body.objective"),
        ("POST", "/v1/ai/messages", None, {"objective": "o", "channel": "sms", "brand": NUL}, "body.brand"),
        ("POST", "/v1/ai/images", None, {"message": NUL}, "body.message"),
        ("POST", "/v1/ai/images", None, {"message": "m", "call_to_action": NUL}, "body.call_to_action"),
        ("POST", "/v1/ai/calls/1/feedback", None, {"accepted": True, "comment": NUL}, "body.comment"),
        ("POST", "/v1/admin/users", None, {"email": "ana@shop.example", "role": "viewer", "name": NUL}, "body.name"),
        ("POST", "/v1/admin/keys", None, {"name": NUL}, "body.name"),
        ("POST", "/v1/auth/dev-login", None, {"email": "dev@shop.example", "name": NUL}, "body.name"),
    ],
)
def test_a_nul_character_in_any_text_is_a_422_naming_where_it_is(
    client: TestClient,  # noqa: F811
    database: Engine,
    method: str,
    path: str,
    query: dict[str, str] | None,
    body: dict[str, Any] | None,
    where: str,
) -> None:
    answer = client.request(method, path, params=query, json=body, headers=auth_headers(database, "admin"))

    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_request"
    [problem] = answer.json()["detail"]
    assert problem["loc"] == where
    assert "NUL character" in problem["message"]


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/v1/segments/preview", {"rule": {"field": "city", "op": "=", "value": NUL}}, "city"),
        ("/v1/segments", {"name": "n", "rule": {"event": NUL}}, None),
        ("/v1/campaigns", {**CAMPAIGN, "audience_rule": {"field": "city", "op": "in", "value": ["x", NUL]}}, "city"),
    ],
)
def test_a_nul_character_in_a_rule_is_a_422_naming_the_condition(
    client: TestClient,  # noqa: F811
    database: Engine,
    published: Snapshot,  # noqa: F811
    path: str,
    body: dict[str, Any],
    where: str | None,
) -> None:
    answer = client.post(path, json=body, headers=auth_headers(database, "admin"))

    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_rule"
    [problem] = answer.json()["detail"]
    assert problem["field"] == where
    assert "NUL character" in problem["message"]


@pytest.mark.parametrize(
    ("method", "path", "body", "where", "message"),
    [
        ("POST", "/v1/ai/segment-rule", {"text": "   "}, "body.text", "String should have at least 1 character"),
        ("POST", "/v1/ai/messages", {"objective": "o", "channel": "sms", "brand": "   "}, "body.brand", "at least 1"),
        ("PATCH", "/v1/segments/1", {"name": "n" * 201}, "body.name", "String should have at most 200 characters"),
        ("PATCH", "/v1/campaigns/1", {"name": ""}, "body.name", "String should have at least 1 character"),
    ],
)
def test_text_checked_for_nul_keeps_its_other_bounds_and_says_them_in_characters(
    client: TestClient,  # noqa: F811
    database: Engine,
    method: str,
    path: str,
    body: dict[str, Any],
    where: str,
    message: str,
) -> None:
    answer = client.request(method, path, json=body, headers=auth_headers(database, "admin"))

    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["detail"]
    assert (problem["loc"], message in problem["message"]) == (where, True), problem
