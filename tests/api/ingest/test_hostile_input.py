"""Items Postgres would refuse later are refused at the door, one by one, naming the field; the rest still land.

Each case here was once accepted with a 202 (or failed the request with a 500) and then refused by Postgres in
the ingest consumer: a NUL character, a number past 64 bits, a time outside years 1-9999, JSON nested too deep.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from engine.postgres_safe import MAX_JSON_DEPTH
from tests.fixtures.api import drain_ingest_stream


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def nested(levels: int) -> dict[str, Any]:
    """An object holding objects `levels` deep in all (this one included)."""
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"down": value}
    return value


def deep_json(levels: int) -> str:
    """The JSON text of `nested(levels)`, for depths the json module would not write."""
    return '{"down":' * (levels - 1) + '{"leaf":1}' + "}" * (levels - 1)


def count(db: Engine, table: str) -> int:
    with db.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


GOOD_CUSTOMER = {"external_id": "good-1", "email": "good@example.com"}
ORDER = {"external_id": "o-1", "customer_external_id": "c-1", "amount": "10.00", "currency": "INR",
         "ordered_at": "2026-01-01T00:00:00Z"}  # fmt: skip


@pytest.mark.parametrize(
    ("path", "bad", "field"),
    [
        ("/v1/customers", {"external_id": "nul\u0000id"}, "external_id"),
        ("/v1/customers", {"external_id": "c-2", "first_name": "A\u0000"}, "first_name"),
        ("/v1/customers", {"external_id": "c-2", "attributes": {"note": "a\u0000b"}}, "attributes.note"),
        ("/v1/customers", {"external_id": "c-2", "attributes": {"k\u0000": 1}}, "attributes.k\\u0000"),
        ("/v1/customers", {"external_id": "c-2", "attributes": {"tags": ["ok", ["\u0000"]]}}, "attributes.tags.1.0"),
        ("/v1/customers", {"external_id": "c-2", "attributes": {"n": 2**63}}, "attributes.n"),
        (
            "/v1/customers",
            {"external_id": "c-2", "attributes": nested(MAX_JSON_DEPTH + 1)},
            "attributes" + ".down" * MAX_JSON_DEPTH,
        ),
        ("/v1/customers", {"external_id": "c-2", "signed_up_at": "9999-12-31T23:00:00-05:00"}, "signed_up_at"),
        ("/v1/customers", {"external_id": "c-2", "updated_at": "0001-01-01T00:30:00+01:00"}, "updated_at"),
        ("/v1/orders", {**ORDER, "items": [{"name": "Kurta\u0000"}]}, "items.0.name"),
        ("/v1/orders", {**ORDER, "items": [{"colour": {"shade": "\u0000"}}]}, "items.0.colour.shade"),
        ("/v1/orders", {**ORDER, "items": [{"quantity": 2**63}]}, "items.0.quantity"),
        ("/v1/orders", {**ORDER, "ordered_at": "9999-12-31T20:00:00-05:00"}, "ordered_at"),
    ],
)
def test_an_item_postgres_would_refuse_is_refused_by_field_and_the_rest_land(
    api_client: TestClient, write_key: str, database: Engine, path: str, bad: dict[str, Any], field: str
) -> None:
    good = GOOD_CUSTOMER if path == "/v1/customers" else ORDER
    answer = api_client.post(path, json=[good, bad], headers=auth(write_key))

    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["accepted"] == 1
    [problem] = body["rejected"]
    assert (problem["index"], problem["field"]) == (1, field)
    report = drain_ingest_stream()
    assert (report.applied, report.dead_lettered) == (1, 0)
    assert count(database, path.removeprefix("/v1/")) == 1


def test_a_nul_in_a_lone_item_is_a_422_that_says_what_is_wrong(api_client: TestClient, write_key: str) -> None:
    answer = api_client.post("/v1/customers", json={"external_id": "nul\u0000id"}, headers=auth(write_key))

    assert answer.status_code == 422
    assert answer.json() == {
        "error": "invalid_request",
        "detail": [{"index": 0, "field": "external_id", "message": "text cannot contain the NUL character (\\u0000)"}],
    }


def test_json_nested_as_deep_as_allowed_is_accepted_and_stored(
    api_client: TestClient, write_key: str, database: Engine
) -> None:
    customer = {"external_id": "deep", "attributes": nested(MAX_JSON_DEPTH)}
    assert api_client.post("/v1/customers", json=customer, headers=auth(write_key)).status_code == 202
    track = {"userId": "deep", "event": "Deep", "properties": nested(MAX_JSON_DEPTH), "context": nested(MAX_JSON_DEPTH)}
    assert api_client.post("/v1/track", json=track, headers=auth(write_key)).status_code == 200

    report = drain_ingest_stream()
    assert (report.applied, report.dead_lettered) == (2, 0)
    assert count(database, "events") == 1


def test_a_track_call_nested_500_deep_is_refused_naming_the_field_not_a_500(
    api_client: TestClient, write_key: str
) -> None:
    body = '{"userId": "u1", "event": "Deep", "properties": ' + deep_json(500) + "}"
    assert len(body) < 32 * 1024

    answer = api_client.post("/v1/track", content=body, headers={**auth(write_key), "Content-Type": "application/json"})

    assert answer.status_code == 400
    [problem] = answer.json()["detail"]
    assert problem["field"] == "properties" + ".down" * MAX_JSON_DEPTH
    assert f"more than {MAX_JSON_DEPTH} levels" in problem["message"]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"type": "track", "userId": "u\u0000", "event": "E"}, "userId"),
        ({"type": "track", "userId": "u2", "event": "E\u0000"}, "event"),
        ({"type": "track", "userId": "u2", "event": "E", "properties": {"a": [{"b": "\u0000"}]}}, "properties.a.0.b"),
        ({"type": "track", "userId": "u2", "event": "E", "context": {"ip\u0000": "1"}}, "context.ip\\u0000"),
        ({"type": "identify", "userId": "u2", "traits": {"plan": "\u0000"}}, "traits.plan"),
        ({"type": "identify", "userId": "u2", "traits": {"visits": 2**64 - 1}}, "traits.visits"),
        (
            {"type": "page", "userId": "u2", "properties": nested(MAX_JSON_DEPTH + 1)},
            "properties" + ".down" * MAX_JSON_DEPTH,
        ),
        (
            {
                "type": "track",
                "userId": "u2",
                "event": "E",
                "timestamp": "9999-12-31T00:00:00Z",
                "sentAt": "2000-01-01T00:00:00Z",
            },
            "timestamp",
        ),
        (
            {
                "type": "track",
                "userId": "u2",
                "event": "E",
                "timestamp": "0001-01-01T00:00:00Z",
                "sentAt": "9000-01-01T00:00:00Z",
            },
            "timestamp",
        ),
        ({"type": "track", "userId": "u2", "event": "E", "timestamp": "9999-12-31T22:00:00-05:00"}, "timestamp"),
        (
            {"type": "identify", "userId": "u2", "traits": {"createdAt": "0001-01-01T00:00:00+05:30"}},
            "traits.signed_up_at",
        ),
    ],
)
def test_a_segment_message_postgres_would_refuse_is_refused_by_field_and_the_rest_land(
    api_client: TestClient, write_key: str, database: Engine, bad: dict[str, Any], field: str
) -> None:
    good = {"type": "track", "userId": "u1", "event": "Fine", "properties": {"n": 1}}
    answer = api_client.post("/v1/batch", json={"batch": [good, bad]}, headers=auth(write_key))

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["accepted"] == 1
    [problem] = body["rejected"]
    assert (problem["index"], problem["field"]) == (1, field)
    report = drain_ingest_stream()
    assert report.dead_lettered == 0
    assert count(database, "events") == 1


def test_a_batch_context_postgres_would_refuse_refuses_every_message_by_field(
    api_client: TestClient, write_key: str
) -> None:
    messages = [{"type": "track", "userId": "u1", "event": "E"}, {"type": "page", "userId": "u1"}]
    answer = api_client.post(
        "/v1/batch", json={"batch": messages, "context": {"app": {"name": "\u0000"}}}, headers=auth(write_key)
    )

    assert answer.status_code == 400
    assert [(p["index"], p["field"]) for p in answer.json()["detail"]] == [
        (0, "context.app.name"),
        (1, "context.app.name"),
    ]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_a_batch_holding_nan_or_infinity_is_a_400_not_json(
    api_client: TestClient, write_key: str, literal: str
) -> None:
    body = '{"batch": [{"type": "track", "userId": "u1", "event": "E", "properties": {"x": ' + literal + "}}]}"

    answer = api_client.post("/v1/batch", content=body, headers={**auth(write_key), "Content-Type": "application/json"})

    assert answer.status_code == 400
    assert "not valid JSON" in answer.json()["detail"]
