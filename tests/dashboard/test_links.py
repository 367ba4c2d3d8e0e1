"""Pages that lead to each other: a segment's and a customer's address open them, and "Create a campaign"
carries the segment over to the Campaigns page (the History's campaign addresses: test_history)."""

from __future__ import annotations

from typing import Any

from streamlit.testing.v1 import AppTest

from engine.features.snapshot import Snapshot
from tests.api.segments import data
from tests.dashboard.helpers import on_page, signed_in

BIG_SPENDERS = "Big spenders"


def saved_segment(app: AppTest) -> dict[str, Any]:
    answer: dict[str, Any] = app.session_state["api_client"].create_segment(
        {"name": BIG_SPENDERS, "description": "", "rule": data.BIG_SPENDERS}
    )
    return answer


def opened_at(app: AppTest, page: str, **query_params: Any) -> AppTest:
    """Open `page` at an address with these query parameters, as a shared link or a reload does."""
    for name, value in query_params.items():
        app.query_params[name] = str(value)
    return on_page(app, page)


def test_a_segments_address_opens_that_segment_and_picking_another_changes_the_address(
    api_url: str, shop: Snapshot
) -> None:
    app = signed_in("analyst")
    segment = saved_segment(app)

    opened_at(app, "segments", segment=segment["id"])

    assert app.selectbox(key="segment_pick").value == segment["id"]
    assert app.text_input(key="segment_name").value == BIG_SPENDERS
    app.selectbox(key="segment_pick").select(0).run()  # "New segment"
    assert "segment" not in app.query_params
    app.selectbox(key="segment_pick").select(segment["id"]).run()
    assert app.query_params["segment"] == str(segment["id"])


def test_create_a_campaign_from_a_segment_opens_the_campaign_form_with_that_segment(
    api_url: str, shop: Snapshot
) -> None:
    app = signed_in("marketer")
    segment = saved_segment(app)
    opened_at(app, "segments", segment=segment["id"])

    [link] = [item for item in app.get("page_link") if "Create a campaign" in item.proto.label]
    assert link.proto.label == f"Create a campaign to “{BIG_SPENDERS}”"
    assert link.proto.query_string == f"segment={segment['id']}"
    assert link.proto.page.endswith("campaigns")

    opened_at(app, "campaigns", segment=segment["id"])

    assert app.selectbox(key="campaign_pick").value == 0  # a new campaign
    assert app.selectbox(key="campaign_segment").value == segment["id"]
    app.text_input(key="campaign_name").input("Thanks, big spenders").run()
    assert app.selectbox(key="campaign_segment").value == segment["id"]
    assert app.text_input(key="campaign_name").value == "Thanks, big spenders"  # the link is not applied again


def test_viewers_and_analysts_are_not_offered_to_create_a_campaign(api_url: str, shop: Snapshot) -> None:
    app = signed_in("analyst")
    segment = saved_segment(app)

    opened_at(app, "segments", segment=segment["id"])

    assert not [item for item in app.get("page_link") if "Create a campaign" in item.proto.label]


def test_a_customers_address_opens_them_though_the_search_lists_others_and_picking_changes_it(
    api_url: str, shop: Snapshot
) -> None:
    app = signed_in("analyst")
    app.query_params["customer"] = "4"
    on_page(app, "customers")
    app.text_input(key="customer_search").input("ada").run()

    assert app.selectbox(key="customer_pick").value == 4
    assert app.header[0].value.endswith("(#4)")
    app.selectbox(key="customer_pick").select(1).run()
    assert app.header[0].value == "Ada Lovelace (#1)"
    assert app.query_params["customer"] == "1"
