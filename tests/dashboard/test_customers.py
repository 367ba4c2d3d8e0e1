"""The Customers page: search, a profile with orders and events, and the segments a customer is in and why."""

from __future__ import annotations

import pytest

from engine.features.snapshot import Snapshot
from tests.api.segments import data
from tests.dashboard.helpers import on_page, signed_in, table_with


def test_a_search_finds_the_customer_and_opens_their_profile_with_orders_and_events_readably(
    api_url: str, shop: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XENO_MESSAGE_CURRENCY", "GBP")
    app = on_page(signed_in("analyst"), "customers")

    app.text_input(key="customer_search").input("ada lov").run()

    results = table_with(app, "External id")
    assert results["E-mail"].tolist() == ["ada@shop.example"]
    features = next(table.value for table in app.dataframe if "Total spend" in table.value.index)
    assert features.loc["Total spend", "Value"] == "£1,200.00"  # money in the shop's currency, not 1200.0
    assert app.header[0].value == "Ada Lovelace (#1)"
    orders = table_with(app, "Ordered at")
    assert len(orders) == 5
    assert all(cell.endswith(" ago") for cell in orders["Ordered at"])  # not an ISO string
    assert table_with(app, "Occurred at")["Name"].tolist() == ["purchase", "purchase"]
    assert "None" not in "".join(str(cell) for table in app.dataframe for cell in table.value.to_numpy().ravel())


def test_the_profile_says_which_segments_the_customer_is_in_and_why_with_badges(
    api_url: str, shop: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XENO_MESSAGE_CURRENCY", "GBP")
    app = signed_in("analyst")
    client = app.session_state["api_client"]
    client.create_segment({"name": "Big spenders", "description": "", "rule": data.BIG_SPENDERS})
    client.create_segment({"name": "Recent buyers", "description": "", "rule": data.RECENT_BUYERS})
    app = on_page(app, "customers")

    app.text_input(key="customer_search").input("sam").run()

    assert [expander.label for expander in app.expander] == ["In “Big spenders”: why"]
    why = app.expander[0].markdown[0].value
    assert why.startswith("- :green-badge[")  # a coloured badge, not an emoji some browsers draw as a box
    assert "total spend is £5,000.00" in why  # not "total_spend is 5000.0"

    app.selectbox(key="customer_explain_segment").select("Recent buyers").run()

    assert app.main.markdown[-1].value.startswith("- :red-badge[")
    assert "0 matching events" in app.main.markdown[-1].value


def test_nobody_matching_the_search_is_said_plainly(api_url: str, shop: Snapshot) -> None:
    app = on_page(signed_in("analyst"), "customers")

    app.text_input(key="customer_search").input("zebedee").run()

    assert app.info[0].value == "Nobody matches."
