"""The Segments page on the real API over the six customers of `tests.api.segments.data`."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from engine.features.snapshot import Snapshot
from tests.api.segments import data
from tests.dashboard.helpers import innermost_block_with, on_page, signed_in, table_with

LOYAL = "Loyal in London or Mumbai"


def build_loyal_in_london_or_mumbai(app: AppTest) -> AppTest:
    """(spend > 1000 OR orders >= 3) AND (city in London, Mumbai), clicked and typed into the builder."""
    app.button(key="rule-do:root:add_group").click().run()
    app.selectbox(key="rule:0:mode").set_value("or").run()
    app.selectbox(key="rule:0.0:op").set_value(">").run()
    app.number_input(key="rule:0.0:value:number").set_value(1000).run()
    app.button(key="rule-do:0:add_field").click().run()
    app.selectbox(key="rule:0.1:field").set_value("order_count").run()
    app.selectbox(key="rule:0.1:op").set_value(">=").run()
    app.number_input(key="rule:0.1:value:integer").set_value(3).run()
    app.button(key="rule-do:root:add_group").click().run()
    app.selectbox(key="rule:1.0:field").set_value("city").run()
    app.selectbox(key="rule:1.0:op").set_value("in").run()
    app.multiselect(key="rule:1.0:value:choices").set_value(["London", "Mumbai"]).run()
    assert not app.exception, app.exception
    return app


def captions(app: AppTest) -> list[str]:
    return [caption.value for caption in app.caption]


def segments_at(app: AppTest) -> list[dict]:
    """The saved segments, asked of the API as the signed-in user."""
    return list(app.session_state["api_client"].segments())


def test_a_rule_of_two_groups_shows_its_audience_each_parts_count_a_sample_and_its_tree(
    api_url: str, shop: Snapshot
) -> None:
    app = build_loyal_in_london_or_mumbai(on_page(signed_in("analyst"), "segments"))

    assert app.metric[0].value == "2"
    assert {"2 match", "3 match", "4 match"} <= set(captions(app))
    assert table_with(app, "Customer")["Customer"].tolist() == ["1", "4"]
    assert app.get("graphviz_chart") == []  # drawn when asked: laying it out on every edit slowed the builder
    app.toggle(key="segment_show_graph").set_value(True).run()
    assert app.get("graphviz_chart")
    assert str(app.text_area(key="segment_json").value).count('"field"') == 3


def test_the_builder_keeps_each_value_where_it_was_when_a_condition_above_is_removed(
    api_url: str, shop: Snapshot
) -> None:
    app = build_loyal_in_london_or_mumbai(on_page(signed_in("analyst"), "segments"))

    app.button(key="rule-do:0.0:remove").click().run()

    assert app.selectbox(key="rule:0.0:field").value == "order_count"
    assert app.number_input(key="rule:0.0:value:integer").value == 3
    assert app.multiselect(key="rule:1.0:value:choices").value == ["London", "Mumbai"]
    assert app.metric[0].value == "2"  # orders >= 3 and in London or Mumbai: Ada and Sam


def test_save_edit_duplicate_and_delete_a_segment(api_url: str, shop: Snapshot) -> None:
    app = build_loyal_in_london_or_mumbai(on_page(signed_in("analyst"), "segments"))

    app.text_input(key="segment_name").input(LOYAL)
    app.button(key="segment_save").click().run()
    saved = {segment["name"]: segment for segment in segments_at(app)}
    loyal, in_london_or_mumbai = data.LOYAL_IN_LONDON_OR_MUMBAI["and"]
    assert saved[LOYAL]["rule"] == {"and": [loyal, {"and": [in_london_or_mumbai]}]}
    assert app.success[0].value == f"Saved “{LOYAL}”."
    assert app.selectbox(key="segment_pick").value == saved[LOYAL]["id"]

    app.multiselect(key="rule:1.0:value:choices").set_value(["London"]).run()
    app.button(key="segment_save").click().run()
    app.button(key="segment_duplicate").click().run()
    saved = {segment["name"]: segment for segment in segments_at(app)}
    assert set(saved) == {LOYAL, f"{LOYAL} (copy)"}
    assert saved[LOYAL]["latest_size"]["size"] == saved[f"{LOYAL} (copy)"]["latest_size"]["size"] == 1

    app.checkbox(key="segment_delete_confirm").check().run()
    app.button(key="segment_delete").click().run()
    assert [segment["name"] for segment in segments_at(app)] == [LOYAL]
    assert app.selectbox(key="segment_pick").value == 0


def test_opening_a_saved_segment_fills_the_builder_and_shows_its_one_size_as_a_marked_point(
    api_url: str, shop: Snapshot
) -> None:
    app = build_loyal_in_london_or_mumbai(on_page(signed_in("analyst"), "segments"))
    app.text_input(key="segment_name").input(LOYAL)
    app.button(key="segment_save").click().run()
    app.selectbox(key="segment_pick").set_value(0).run()
    assert app.get("graphviz_chart") == []

    saved_id = segments_at(app)[0]["id"]
    app.selectbox(key="segment_pick").set_value(saved_id).run()

    assert app.text_input(key="segment_name").value == LOYAL
    assert app.multiselect(key="rule:1.0:value:choices").value == ["London", "Mumbai"]
    assert app.metric[0].value == "2"
    assert "One snapshot so far: 2 customers in it. Each new snapshot adds a point." in captions(app)
    [sizes] = app.get("vega_lite_chart")  # one snapshot: a marked point, not an empty plot; no entered/left bars
    spec = json.loads(sizes.proto.spec)
    assert spec["mark"]["type"] == "line"
    assert spec["mark"]["point"]
    assert (spec["encoding"]["x"]["title"], spec["encoding"]["y"]["title"]) == (
        "feature snapshot taken",
        "customers in it",
    )
    assert spec["encoding"]["y"]["axis"]["format"] == ",d"  # whole customers, no ".882"


def test_plain_language_fills_the_builder_through_the_ai(api_url: str, shop: Snapshot) -> None:
    app = on_page(signed_in("analyst"), "segments")

    app.text_area(key="segment_ai_text").input("VIP list: customers in Mumbai who spent over 1000 and love tea")
    app.button(key="segment_ai_fill").click().run()

    assert app.info[0].value.startswith("Read as: ")
    assert "I left out “love tea” (not understood). What did you mean by it?" in app.info[0].value
    assert app.metric[0].value == "1"  # Sam
    assert {app.selectbox(key="rule:0:field").value, app.selectbox(key="rule:1:field").value} == {"city", "total_spend"}


def test_a_problem_in_the_rule_is_shown_at_the_condition_it_is_in(api_url: str, shop: Snapshot) -> None:
    app = on_page(signed_in("analyst"), "segments")
    app.button(key="rule-do:root:add_field").click().run()

    app.button(key="rule-do:root:add_event").click().run()

    problem = "event: String should have at least 1 character"
    assert app.metric == []
    around_the_problem = innermost_block_with(app, "rule:1:event", problem)
    assert not any(getattr(item, "key", None) == "rule:0:field" for item in around_the_problem)


def test_a_viewer_sees_saved_segments_but_not_the_builder(api_url: str, shop: Snapshot) -> None:
    analyst = build_loyal_in_london_or_mumbai(on_page(signed_in("analyst"), "segments"))
    analyst.text_input(key="segment_name").input(LOYAL)
    analyst.button(key="segment_save").click().run()

    app = on_page(signed_in("viewer"), "segments")

    assert table_with(app, "owner")["name"].tolist() == [LOYAL]
    assert app.info[0].value == "Building and previewing segments needs the analyst role."
    assert not [widget for widget in app.selectbox if str(widget.key).startswith("rule:")]


def test_an_edit_made_just_before_clicking_save_is_in_what_is_saved(api_url: str, shop: Snapshot) -> None:
    app = build_loyal_in_london_or_mumbai(on_page(signed_in("analyst"), "segments"))
    app.text_input(key="segment_name").input(LOYAL)

    app.number_input(key="rule:0.0:value:number").set_value(4000)
    app.button(key="segment_save").click().run()

    assert segments_at(app)[0]["rule"]["and"][0]["or"][0] == {"field": "total_spend", "op": ">", "value": 4000.0}


def test_a_new_condition_starts_empty_and_is_marked_and_left_out_until_it_has_a_value(
    api_url: str, shop: Snapshot
) -> None:
    app = on_page(signed_in("analyst"), "segments")

    app.button(key="rule-do:root:add_field").click().run()
    app.selectbox(key="rule:0:field").set_value("email").run()
    app.selectbox(key="rule:0:op").set_value("contains").run()

    assert app.text_input(key="rule:0:value:text").value == ""  # the example is a placeholder, not a value
    assert [warning.value for warning in app.warning] == ["Give it a value: the condition counts once it has one."]
    assert "Add a condition, with a value, to see who matches." in captions(app)
    app.text_input(key="segment_name").input("Nobody yet")
    app.button(key="segment_save").click().run()
    assert segments_at(app) == []

    app.text_input(key="rule:0:value:text").input("shop.example").run()
    assert app.warning == []
    assert app.metric[0].value == "6"


def test_a_category_is_picked_from_its_values_in_the_snapshot(api_url: str, shop: Snapshot) -> None:
    app = on_page(signed_in("analyst"), "segments")

    app.button(key="rule-do:root:add_field").click().run()
    app.selectbox(key="rule:0:field").set_value("city").run()
    app.selectbox(key="rule:0:op").set_value("=").run()

    picker = app.selectbox(key="rule:0:value:choice")
    assert picker.options == ["London", "Mumbai", "Delhi", "Paris"]  # most customers first
    assert picker.value is None
    picker.set_value("Paris").run()
    assert app.metric[0].value == "1"


def test_the_audience_shows_the_funnel_and_who_would_actually_receive_it(api_url: str, shop: Snapshot) -> None:
    app = build_loyal_in_london_or_mumbai(on_page(signed_in("analyst"), "segments"))

    funnel = table_with(app, "After")
    assert funnel["Customers"].tolist() == ["3", "2"]  # spend or orders: 3; and in London or Mumbai: 2
    assert funnel["After"].tolist() == ["(total spend > 1,000 OR order count >= 3)", "AND city in [London, Mumbai]"]
    assert "2 match · 0 will receive it by SMS; not: 2 no consent to SMS" in [str(item.value) for item in app.markdown]

    app.selectbox(key="segment_reach_channel").set_value(None).run()
    assert not any("will receive" in str(item.value) for item in app.markdown)


def test_an_event_nobody_performed_is_counted_with_a_warning_naming_the_known_events(
    api_url: str, shop: Snapshot
) -> None:
    app = on_page(signed_in("analyst"), "segments")
    app.button(key="rule-do:root:add_event").click().run()

    app.text_input(key="rule:0:event").input("purchse").run()

    assert app.metric[0].value == "0"
    [warning] = [item.value for item in app.warning]
    assert "no customer has performed 'purchse' (did you mean 'purchase'?)" in warning
