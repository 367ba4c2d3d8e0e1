"""The API's snapshot in memory follows the deltas: an order ingested after the snapshot was published puts its
customer in a segment's answer within seconds, with no new version; a newer version still replaces it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.main import create_app
from engine.features.deltas import publish_delta
from engine.features.materialize import materialize_features
from tests.engine.features.data import NOW, customer, ingest, order
from tests.fixtures.users import auth_headers

BIG_SPENDERS = {"field": "total_spend", "op": ">=", "value": 100}


@pytest.fixture
def client(database: Engine, redis_client: redis.Redis, tmp_path: Path) -> Iterator[TestClient]:
    ingest(database, redis_client, customers=[customer("ada"), customer("bob")], orders=[order("o1", "ada", "150")])
    materialize_features(database, tmp_path, now=NOW)
    with TestClient(create_app()) as client:
        yield client


def big_spenders(client: TestClient, headers: dict[str, str]) -> Any:
    answer = client.post("/v1/segments/preview", json={"rule": BIG_SPENDERS}, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def size_becomes(client: TestClient, headers: dict[str, str], size: int) -> Any:
    deadline = time.monotonic() + 20
    while (answer := big_spenders(client, headers))["size"] != size:
        assert time.monotonic() < deadline, f"still {answer['size']} big spenders"
        time.sleep(0.05)
    return answer


def test_an_ingested_order_reaches_a_segment_answer_through_a_delta(
    client: TestClient, database: Engine, redis_client: redis.Redis, tmp_path: Path
) -> None:
    analyst = auth_headers(database, "analyst")
    assert big_spenders(client, analyst)["size"] == 1

    ingest(database, redis_client, orders=[order("o2", "bob", "120")])
    delta = publish_delta(database, tmp_path)

    answer = size_becomes(client, analyst, 2)
    assert delta is not None
    assert answer["snapshot"]["version"] == 1
    assert answer["snapshot"]["taken_at"].startswith(delta.taken_at.date().isoformat())

    materialize_features(database, tmp_path)
    deadline = time.monotonic() + 20
    while (answer := big_spenders(client, analyst))["snapshot"]["version"] != 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert answer["size"] == 2
