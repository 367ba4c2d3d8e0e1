"""The Customers page: search, a profile with orders and events, and the segments a customer is in and why."""

from __future__ import annotations

from engine.features.snapshot import Snapshot
from tests.api.segments import data
from tests.dashboard.helpers import on_page, signed_in, table_with


def test_a_search_finds_the_customer_and_opens_their_profile_with_orders_and_events(
    api_url: str, shop: Snapshot
) -> None:
    app = on_page(signed_in("analyst"), "customers")

    app.text_input(key="customer_search").input("ada lov").run()

    assert table_with(app, "external_id")["email"].tolist() == ["ada@shop.example"]
    assert app.header[0].value == "Ada Lovelace (#1)"
    assert len(table_with(app, "ordered_at")) == 5
    assert table_with(app, "occurred_at")["name"].tolist() == ["purchase", "purchase"]


def test_the_profile_says_which_segments_the_customer_is_in_and_why(api_url: str, shop: Snapshot) -> None:
    app = signed_in("analyst")
    client = app.session_state["api_client"]
    client.post("/v1/segments", {"name": "Big spenders", "rule": data.BIG_SPENDERS})
    client.post("/v1/segments", {"name": "Recent buyers", "rule": data.RECENT_BUYERS})
    app = on_page(app, "customers")

    app.text_input(key="customer_search").input("sam").run()

    assert [expander.label for expander in app.expander] == ["In “Big spenders”: why"]
    assert "✅" in app.expander[0].markdown[0].value
    assert "5000" in app.expander[0].markdown[0].value

    app.selectbox(key="customer_explain_segment").select("Recent buyers").run()

    assert app.main.markdown[-1].value.startswith("- ❌")
    assert "0 matching events" in app.main.markdown[-1].value


def test_nobody_matching_the_search_is_said_plainly(api_url: str, shop: Snapshot) -> None:
    app = on_page(signed_in("analyst"), "customers")

    app.text_input(key="customer_search").input("zebedee").run()

    assert app.info[0].value == "Nobody matches."
