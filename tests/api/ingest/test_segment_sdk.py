"""Segment's own Python library, pointed at our API, works unchanged."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from segment.analytics.client import Client
from sqlalchemy import Engine, text

from tests.fixtures.api import drain_ingest_stream


def test_the_official_segment_library_sends_identify_track_orders_and_pages(
    live_api: str, write_key: str, database: Engine
) -> None:
    errors: list[Exception] = []
    client = Client(write_key, host=live_api, on_error=lambda error, _batch: errors.append(error), sync_mode=True)
    client.identify("user-7", {"email": "meera@example.com", "name": "Meera Iyer", "address": {"city": "Chennai"},
                               "plan": "pro", "email_consent": True})  # fmt: skip
    client.track(
        "user-7",
        "Order Completed",
        {
            "order_id": "seg-ord-1",
            "total": 1299.5,
            "currency": "INR",
            "products": [{"product_id": "p1", "name": "Kurta", "quantity": 1}],
        },
    )
    client.track("user-7", "Product Viewed", {"product_id": "p2"}, message_id="fixed-message-id")
    client.track("user-7", "Product Viewed", {"product_id": "p2"}, message_id="fixed-message-id")
    client.page("user-7", "Shop", "Home", {"path": "/"})
    client.track(anonymous_id="anon-1", event="Product Viewed", properties={"product_id": "p3"})
    client.alias("anon-1", "user-7")
    client.flush()
    assert errors == []

    report = drain_ingest_stream()
    assert report.dead_lettered == 0
    with database.connect() as conn:
        customer = conn.execute(
            text("SELECT first_name, last_name, city, email, email_consent, traits->>'plan' FROM customers")
        ).one()
        order = conn.execute(text("SELECT external_id, amount::text, currency, items->0->>'sku' FROM orders")).one()
        events = conn.execute(text("SELECT type, name, customer_id IS NOT NULL FROM events ORDER BY id")).all()
    assert tuple(customer) == ("Meera", "Iyer", "Chennai", "meera@example.com", True, "pro")
    assert tuple(order) == ("seg-ord-1", "1299.50", "INR", "p1")
    assert [tuple(e) for e in events] == [
        ("identify", None, True),
        ("track", "Order Completed", True),
        ("track", "Product Viewed", True),  # the repeated messageId is kept once
        ("page", "Home", True),
        ("track", "Product Viewed", True),  # anonymous at first, tied to the user by the alias
        ("alias", None, True),
    ]


def test_a_client_clock_that_runs_late_is_corrected_by_sent_at(live_api: str, write_key: str, database: Engine) -> None:
    now = datetime.now(UTC)
    skewed = {
        "userId": "u1",
        "event": "Clock Test",
        "timestamp": "2020-01-01T00:00:00Z",
        "sentAt": "2020-01-01T00:00:05Z",
    }
    answer = httpx.post(f"{live_api}/v1/track", json=skewed, auth=(write_key, ""))
    assert answer.status_code == 200
    assert answer.json()["success"] is True
    drain_ingest_stream()
    with database.connect() as conn:
        occurred = conn.execute(text("SELECT occurred_at FROM events")).scalar_one()
    assert abs((occurred - now).total_seconds() + 5) < 5, "the event happened about 5 s before it arrived"


def test_segment_calls_are_refused_with_reasons(live_api: str, write_key: str) -> None:
    assert httpx.post(f"{live_api}/v1/track", json={"userId": "u", "event": "E"}).status_code == 401
    no_user = httpx.post(f"{live_api}/v1/track", json={"event": "E"}, auth=(write_key, ""))
    assert no_user.status_code == 400
    assert no_user.json()["detail"][0]["message"] == "userId or anonymousId is required"
    big = httpx.post(f"{live_api}/v1/track", json={"userId": "u", "event": "E", "properties": {"x": "y" * 40_000}},
                     auth=(write_key, ""))  # fmt: skip
    assert big.status_code == 413
    key_in_body = httpx.post(f"{live_api}/v1/identify", json={"userId": "u", "writeKey": write_key})
    assert key_in_body.status_code == 200
