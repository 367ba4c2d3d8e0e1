"""Identify traits sent in `context.traits` (RudderStack's Python SDK sends them only there) fill the customer in."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from tests.fixtures.api import drain_ingest_stream


def rudderstack_identify(user_id: str, context_traits: dict[str, Any], **message: Any) -> dict[str, Any]:
    """An identify call as RudderStack's Python SDK (rudder-sdk-python 2.x) queues it: the traits put under
    `context.traits` and none at the top level, its library named in the context, `integrations` defaulted."""
    return {
        "integrations": {"All": True},
        "timestamp": "2026-11-20T09:30:00.123456+00:00",
        "context": {"traits": context_traits, "library": {"name": "analytics-python", "version": "2.1.4"}},
        "type": "identify",
        "userId": user_id,
        "messageId": f"msg-{user_id}",
        "channel": "server",
        **message,
    }


def customer(db: Engine, external_id: str) -> tuple[object, ...]:
    with db.connect() as conn:
        return tuple(
            conn.execute(
                text(
                    "SELECT email, first_name, last_name, city, traits->>'plan' FROM customers WHERE external_id = :id"
                ),
                {"id": external_id},
            ).one()
        )


def test_a_rudderstack_identify_with_traits_only_in_the_context_fills_in_the_customer(
    api_client: TestClient, write_key: str, database: Engine
) -> None:
    traits = {"email": "kavya@example.com", "name": "Kavya Menon", "address": {"city": "Kochi"}, "plan": "gold"}
    # The SDK's request: the batch with its send time, gzipped, the write key as the Basic user name.
    body = orjson.dumps({"batch": [rudderstack_identify("user-r1", traits)], "sentAt": "2026-11-20T09:30:01+00:00"})
    answer = api_client.post(
        "/v1/batch",
        content=gzip.compress(body),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        auth=(write_key, ""),
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1
    assert drain_ingest_stream().dead_lettered == 0
    assert customer(database, "user-r1") == ("kavya@example.com", "Kavya", "Menon", "Kochi", "gold")


def test_top_level_traits_win_key_by_key_over_those_in_the_context(
    api_client: TestClient, write_key: str, database: Engine
) -> None:
    message = rudderstack_identify(
        "user-r2",
        {"email": "old@example.com", "firstName": "Ravi", "plan": "silver"},
        traits={"email": "new@example.com", "plan": "gold"},
    )
    answer = api_client.post("/v1/identify", json=message, auth=(write_key, ""))

    assert answer.status_code == 200, answer.text
    drain_ingest_stream()
    assert customer(database, "user-r2") == ("new@example.com", "Ravi", None, None, "gold")


def test_a_bad_trait_in_the_context_is_refused_naming_it(api_client: TestClient, write_key: str) -> None:
    message = rudderstack_identify("user-r3", {"email": "not an email"})
    answer = api_client.post("/v1/batch", json={"batch": [message]}, auth=(write_key, ""))

    assert answer.status_code == 400
    [problem] = answer.json()["detail"]
    assert problem["field"] == "traits.email"
