"""Privacy requests: an admin exports everything held about a customer as JSON, or erases it; an erased customer
is gone from every table, stays gone from the features after their next refresh, and both requests are audited."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from engine.auth.audit import list_entries
from engine.consent.suppression import find, suppress
from engine.engagement.links import open_pixel_url
from engine.features.deltas import publish_delta
from engine.features.materialize import materialize_features
from engine.features.snapshot import latest_snapshot
from engine.settings import get_settings
from tests.api.engagement.conftest import SENT, Sent, add_order
from tests.fixtures.users import auth_headers

# Tables and what in them names Ada (by customer id, or by external id in a dead letter's text).
ADA_ROWS = {
    "customers": "SELECT count(*) FROM customers WHERE id = :id",
    "orders": "SELECT count(*) FROM orders WHERE customer_id = :id",
    "events": "SELECT count(*) FROM events WHERE customer_id = :id",
    "communication_log": "SELECT count(*) FROM communication_log WHERE customer_id = :id",
    "dead_letters": "SELECT count(*) FROM ingest_dead_letters WHERE payload LIKE '%\"ada\"%'",
}


@pytest.fixture
def held(database: Engine, sent: Sent) -> Sent:
    """Ada and Bob as `sent` made them, each with an order and an event, and a dead letter naming Ada."""
    add_order(database, sent.ada, "ada-1", "120.00", SENT)
    add_order(database, sent.bob, "bob-1", "80.00", SENT)
    with database.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO events (message_id, customer_id, type, name, occurred_at) "
                "VALUES ('e-ada', :ada, 'track', 'Viewed Shoes', :at), ('e-bob', :bob, 'track', 'Viewed Shoes', :at)"
            ),
            {"ada": sent.ada, "bob": sent.bob, "at": SENT},
        )
        suppress(conn, "sms", "+44 7700 900001", "stop", "sms reply", customer_id=sent.ada)
        conn.execute(
            text(
                "INSERT INTO ingest_dead_letters (stream_entry_id, kind, payload, error) "
                "VALUES ('1-0', 'orders', '{\"customer_external_id\": \"ada\", \"amount\": \"x\"}', 'bad amount')"
            )
        )
    return sent


def _counts(database: Engine, customer_id: int) -> dict[str, int]:
    with database.connect() as conn:
        return {name: conn.execute(text(sql), {"id": customer_id}).scalar_one() for name, sql in ADA_ROWS.items()}


def test_an_export_holds_everything_about_the_customer_and_nothing_about_others(
    api_client: TestClient, database: Engine, held: Sent, data_dir: Path
) -> None:
    materialize_features(database, data_dir / "snapshots")

    answer = api_client.get(f"/v1/customers/{held.ada}/export", headers=auth_headers(database, "admin"))

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"] == f'attachment; filename="customer-{held.ada}.json"'
    export: dict[str, Any] = answer.json()
    assert export["customer"]["email"] == "ada@shop.example"
    assert [(order["external_id"], order["amount"]) for order in export["orders"]] == [("ada-1", "120.00")]
    assert [event["message_id"] for event in export["events"]] == ["e-ada"]
    assert {row["campaign_id"] for row in export["communication_log"]} == {held.diwali, held.follow_up}
    assert export["features"]["customer_id"] == held.ada
    assert export["features"]["total_spend"] == 120.0
    assert [letter["error"] for letter in export["dead_letters"]] == ["bad amount"]
    assert "bob" not in answer.text
    [entry] = list_entries(database, action="customer.exported")
    assert (entry.actor, entry.target) == ("admin@shop.example", f"customer:{held.ada}")


def test_an_erased_customer_is_gone_everywhere_and_stays_gone_after_the_features_refresh(
    api_client: TestClient, database: Engine, redis_client: redis.Redis, held: Sent, data_dir: Path
) -> None:
    materialize_features(database, data_dir / "snapshots")
    admin = auth_headers(database, "admin")
    bob_before = _counts(database, held.bob)

    answer = api_client.post(f"/v1/customers/{held.ada}/erase", headers=admin)

    assert answer.status_code == 200, answer.text
    assert answer.json()["suppressed"] == 3
    removed = answer.json()["removed"]
    assert {name: removed[name] for name in ADA_ROWS} == {
        "customers": 1,
        "orders": 1,
        "events": 1,
        "communication_log": 2,
        "dead_letters": 1,
    }
    assert _counts(database, held.ada) == dict.fromkeys(ADA_ROWS, 0)
    assert _counts(database, held.bob) == bob_before | {"dead_letters": 0}
    assert api_client.get(f"/v1/customers/{held.ada}/export", headers=admin).status_code == 404
    assert api_client.post(f"/v1/customers/{held.ada}/erase", headers=admin).status_code == 404
    [entry] = list_entries(database, action="customer.erased")
    assert (entry.target, entry.detail["removed"]["orders"]) == (f"customer:{held.ada}", 1)
    with database.connect() as conn:
        on_the_list = conn.execute(text("SELECT channel, address, customer_id, reason FROM suppressions")).all()
        assert sorted(on_the_list) == [
            ("email", None, None, "manual"),  # her profile's address (and her e-mails')
            ("sms", None, None, "manual"),  # the address her SMS campaign went to
            ("sms", None, None, "stop"),  # on the list before, now without her
            ("webhook", None, None, "manual"),  # her external id, the webhook channel's address
        ]
        assert find(conn, "email", "ADA@shop.example") is not None
        assert find(conn, "email", "bob@shop.example") is None

    publish_delta(database, data_dir / "snapshots")  # what the pipelines run seconds after
    followed = latest_snapshot(database)
    assert followed is not None
    assert held.ada not in followed.features["customer_id"].to_list()
    materialize_features(database, data_dir / "snapshots")
    refreshed = latest_snapshot(database)
    assert refreshed is not None
    assert refreshed.version > followed.version
    assert held.ada not in refreshed.features["customer_id"].to_list()
    assert held.bob in refreshed.features["customer_id"].to_list()

    pixel = urlsplit(open_pixel_url(get_settings(), held.diwali_to_ada)).path
    assert api_client.get(pixel).status_code == 200
    assert redis_client.xlen(get_settings().stream("ingest")) == 0


def test_only_an_admin_may_export_or_erase(api_client: TestClient, database: Engine, held: Sent) -> None:
    marketer = auth_headers(database, "marketer")

    assert api_client.get(f"/v1/customers/{held.ada}/export", headers=marketer).status_code == 403
    assert api_client.post(f"/v1/customers/{held.ada}/erase", headers=marketer).status_code == 403
    assert _counts(database, held.ada)["customers"] == 1
