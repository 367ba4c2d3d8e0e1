"""Finding customers by what people type, and a customer's profile with their features and segments."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from engine.customers.search import search_statement
from engine.features.snapshot import Snapshot
from engine.schema import customers
from tests.api.segments import data
from tests.api.segments.test_crud import save


def found(client: TestClient, headers: dict[str, str], q: str) -> list[int]:
    answer = client.get("/v1/customers", params={"q": q}, headers=headers)
    assert answer.status_code == 200, answer.text
    return [customer["id"] for customer in answer.json()["customers"]]


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("ada", [1]),  # first name
        ("PETROV", [6]),  # last name, any case
        ("noor k", [5]),  # first and last name
        ("ravi@shop", [2]),  # e-mail
        ("cus_4", [4]),  # external id
        ("+44770090000", [1, 2, 3, 4, 5, 6]),  # phone
        ("4477009000", [1, 2, 3, 4, 5, 6]),  # phone without the plus
        ("  mei  ", [3]),
        ("lin%", []),  # wildcards are taken literally
        ("ada lovelace x", []),
    ],
)
def test_search_matches_the_start_of_names_emails_phones_and_external_ids(
    client: TestClient, analyst: dict[str, str], query: str, ids: list[int]
) -> None:
    assert found(client, analyst, query) == ids


def test_search_results_come_a_page_at_a_time(client: TestClient, analyst: dict[str, str]) -> None:
    first = client.get("/v1/customers", params={"q": "+44", "limit": 4}, headers=analyst).json()
    second = client.get(
        "/v1/customers", params={"q": "+44", "limit": 4, "cursor": first["next_cursor"]}, headers=analyst
    )

    assert [customer["id"] for customer in first["customers"]] == [1, 2, 3, 4]
    assert [customer["id"] for customer in second.json()["customers"]] == [5, 6]
    assert second.json()["next_cursor"] is None
    assert first["customers"][0]["email"] == "ada@shop.example"


def test_search_is_answered_from_the_indexes(client: TestClient, database: Engine) -> None:
    with database.begin() as conn:
        rows = [{"external_id": f"bulk_{n}", "email": f"b{n}@x.example", "phone": f"+1{n:09d}"} for n in range(20_000)]
        conn.execute(insert(customers), rows)
        conn.exec_driver_sql("ANALYZE customers")
        search = search_statement("ada lov", after=None, limit=51).compile(dialect=database.dialect)
        plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {search}", search.params).scalars())

    assert "Seq Scan" not in plan
    for searched in ("email", "phone", "external_id", "first_name", "last_name"):
        assert f"ix_customers_search_{searched}" in plan


def test_a_profile_has_the_customer_orders_events_features_and_segments(
    client: TestClient, analyst: dict[str, str], published: Snapshot
) -> None:
    big = save(client, analyst, "Big spenders", data.BIG_SPENDERS)
    save(client, analyst, "Loyal", data.LOYAL_IN_LONDON_OR_MUMBAI)
    recent = save(client, analyst, "Recent buyers", data.RECENT_BUYERS)

    profile = client.get("/v1/customers/5", params={"orders": 2}, headers=analyst).json()

    assert (profile["customer"]["first_name"], profile["customer"]["city"]) == ("Noor", "Delhi")
    assert [order["external_id"] for order in profile["orders"]] == ["ord_5_0", "ord_5_1"]  # newest first
    assert [(event["name"], event["occurred_at"]) for event in profile["recent_events"]] == [
        ("purchase", "2026-05-31T12:00:00Z")
    ]
    assert (profile["features"]["total_spend"], profile["features"]["trait_plan"]) == (800.0, "silver")
    assert profile["segments"] == [
        {"id": big["id"], "name": "Big spenders"},
        {"id": recent["id"], "name": "Recent buyers"},
    ]
    assert profile["snapshot"]["version"] == 1


def test_a_customer_newer_than_the_snapshot_has_a_profile_without_features(
    client: TestClient, analyst: dict[str, str], database: Engine, published: Snapshot
) -> None:
    with database.begin() as conn:
        conn.execute(insert(customers).values(external_id="cus_7", created_at=datetime.now(UTC)))

    profile = client.get("/v1/customers/7", headers=analyst).json()

    assert (profile["customer"]["external_id"], profile["features"], profile["segments"]) == ("cus_7", None, None)
    assert client.get("/v1/customers/8", headers=analyst).status_code == 404
