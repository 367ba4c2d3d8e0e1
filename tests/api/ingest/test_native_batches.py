"""Integrators post customers and orders; they land in Postgres once, with bad items refused by index."""

from __future__ import annotations

import gzip

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from engine.ingest.validation import MAX_BATCH_ITEMS
from tests.fixtures.api import drain_ingest_stream


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def customer(n: int, **fields: object) -> dict[str, object]:
    return {"external_id": f"cust-{n}", "email": f"c{n}@example.com", "city": "Pune", **fields}


def rows(db: Engine, sql: str) -> list[tuple]:
    with db.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


def test_a_batch_with_bad_items_accepts_the_good_ones_and_names_the_bad(
    api_client: TestClient, write_key: str, database: Engine
) -> None:
    batch = [
        customer(1),
        customer(2, email="not-an-email"),
        customer(3, timezone="Mars/Olympus"),
        customer(4),
    ]
    answer = api_client.post("/v1/customers", json=batch, headers=auth(write_key))

    assert answer.status_code == 202
    body = answer.json()
    assert body["accepted"] == 2
    assert body["ids"] == ["cust-1", "cust-4"]
    assert [(item["index"], item["field"]) for item in body["rejected"]] == [(1, "email"), (2, "timezone")]
    assert "Mars/Olympus" in body["rejected"][1]["message"]

    assert rows(database, "SELECT count(*) FROM customers") == [(0,)], "nothing is written on the request path"
    report = drain_ingest_stream()
    assert report.applied == 2
    assert rows(database, "SELECT external_id, email FROM customers ORDER BY 1") == [
        ("cust-1", "c1@example.com"),
        ("cust-4", "c4@example.com"),
    ]


def test_a_batch_where_every_item_is_bad_is_refused_with_each_problem(api_client: TestClient, write_key: str) -> None:
    answer = api_client.post("/v1/orders", json=[{"external_id": "o1"}], headers=auth(write_key))
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "invalid_request"
    assert {item["field"] for item in body["detail"]} >= {
        "customer_external_id",
        "amount",
        "currency",
        "ordered_at",
    }


def test_the_same_customer_and_order_sent_twice_are_one_row_each_updated(
    api_client: TestClient, write_key: str, database: Engine
) -> None:
    order = {
        "external_id": "ord-1",
        "customer_external_id": "cust-1",
        "amount": "499.00",
        "currency": "inr",
        "ordered_at": "2026-11-01T10:00:00Z",
    }
    api_client.post("/v1/customers", json=customer(1), headers=auth(write_key))
    api_client.post("/v1/orders", json=order, headers=auth(write_key))
    drain_ingest_stream()
    api_client.post("/v1/customers", json=customer(1, city="Delhi"), headers=auth(write_key))
    api_client.post("/v1/orders", json={**order, "amount": "549.00"}, headers=auth(write_key))
    api_client.post("/v1/orders", json={**order, "amount": "549.00"}, headers=auth(write_key))
    drain_ingest_stream()

    assert rows(database, "SELECT external_id, city FROM customers") == [("cust-1", "Delhi")]
    assert rows(database, "SELECT external_id, amount::text, currency FROM orders") == [("ord-1", "549.00", "INR")]


def test_an_order_for_an_unknown_customer_creates_the_customer_for_later(
    api_client: TestClient, write_key: str, database: Engine
) -> None:
    order = {"external_id": "o9", "customer_external_id": "later", "amount": 10, "currency": "USD",
             "ordered_at": "2026-01-01T00:00:00Z"}  # fmt: skip
    api_client.post("/v1/orders", json=order, headers=auth(write_key))
    api_client.post("/v1/customers", json={"external_id": "later", "first_name": "Lee"}, headers=auth(write_key))
    drain_ingest_stream()
    drain_ingest_stream()
    assert rows(
        database, "SELECT c.first_name, o.external_id FROM orders o JOIN customers c ON c.id = o.customer_id"
    ) == [("Lee", "o9")]


def test_updates_arriving_out_of_order_keep_the_newest_and_fill_gaps_from_the_older(
    api_client: TestClient, write_key: str, database: Engine
) -> None:
    newer = {
        "external_id": "c1",
        "city": "Mumbai",
        "updated_at": "2026-11-02T00:00:00Z",
        "attributes": {"plan": "gold"},
    }
    older = {"external_id": "c1", "city": "Chennai", "first_name": "Ravi", "updated_at": "2026-11-01T00:00:00Z",
             "attributes": {"plan": "silver", "pet": "cat"}}  # fmt: skip
    api_client.post("/v1/customers", json=newer, headers=auth(write_key))
    drain_ingest_stream()
    api_client.post("/v1/customers", json=older, headers=auth(write_key))
    drain_ingest_stream()
    assert rows(database, "SELECT city, first_name, traits->>'plan', traits->>'pet' FROM customers") == [
        ("Mumbai", "Ravi", "gold", "cat")
    ]

    # The same two updates in one batch, older last, settle the same way.
    api_client.post("/v1/customers", json=[{**newer, "external_id": "c2"}, {**older, "external_id": "c2"}],
                    headers=auth(write_key))  # fmt: skip
    drain_ingest_stream()
    assert rows(database, "SELECT city, first_name FROM customers WHERE external_id = 'c2'") == [("Mumbai", "Ravi")]


def test_ingestion_without_a_valid_write_key_is_refused(api_client: TestClient, write_key: str) -> None:
    assert api_client.post("/v1/customers", json=customer(1)).status_code == 401
    refused = api_client.post("/v1/customers", json=customer(1), headers=auth("xk_nope_nope"))
    assert refused.status_code == 401
    assert refused.json() == {"error": "unauthorized", "detail": "the write key is unknown or revoked"}


def test_oversized_batches_and_bodies_are_413(api_client: TestClient, write_key: str) -> None:
    too_many = [customer(n) for n in range(MAX_BATCH_ITEMS + 1)]
    answer = api_client.post("/v1/customers", json=too_many, headers=auth(write_key))
    assert answer.status_code == 413
    assert "1000" in answer.json()["detail"]

    huge = customer(1, attributes={"blob": "x" * 5_000_000})
    assert api_client.post("/v1/customers", json=huge, headers=auth(write_key)).status_code == 413


def test_gzip_bodies_are_read_and_bad_json_is_a_400(api_client: TestClient, write_key: str) -> None:
    body = gzip.compress(b'{"external_id": "gz-1"}')
    headers = {**auth(write_key), "Content-Encoding": "gzip", "Content-Type": "application/json"}
    assert api_client.post("/v1/customers", content=body, headers=headers).status_code == 202

    broken = api_client.post(
        "/v1/customers", content=b"{nope", headers={**auth(write_key), "Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    assert "not valid JSON" in broken.json()["detail"]
