"""The rule builder's model: rules in and out unchanged, paths the API's counts and problems are keyed by,
and values converted to and from the input that fits each field."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from dashboard import rules
from dashboard.rules import Feature
from tests.api.segments import data

CATALOG = {
    "total_spend": Feature("total_spend", "number", "total spend", (">", "between", "in", "is set")),
    "order_count": Feature("order_count", "integer", "order count", (">=", "in")),
    "city": Feature("city", "category", "city", ("in", "="), ("London", "Mumbai")),
    "last_order_at": Feature("last_order_at", "datetime", "last order", ("<", "within last days")),
    "email_consent": Feature("email_consent", "boolean", "e-mail consent", ("=",)),
}
LOYAL_IN_LONDON_OR_MUMBAI: dict[str, Any] = data.LOYAL_IN_LONDON_OR_MUMBAI
README_RULE: dict[str, Any] = {
    "and": [
        {"field": "total_spend", "op": ">", "value": 10000},
        {"or": [
            {"field": "city", "op": "in", "value": ["Mumbai", "Delhi"]},
            {"field": "last_order_at", "op": "more than days ago", "value": 90},
        ]},
        {"event": "Email Opened", "op": "at least", "count": 2, "within_days": 30},
        {"not": {"never": "Added To Cart", "where": [{"property": "sku", "op": "=", "value": "SAREE-07"}]}},
    ]
}  # fmt: skip


@pytest.mark.parametrize(
    "rule", [README_RULE, data.LOYAL_IN_LONDON_OR_MUMBAI, {"not": {"or": [data.BIG_SPENDERS, data.RECENT_BUYERS]}}]
)
def test_a_rule_comes_out_of_the_builder_as_it_went_in(rule: dict[str, Any]) -> None:
    assert rules.compile_rule(rules.tree_of(rule)).rule == rule


def test_a_lone_condition_is_put_in_a_group_to_build_on() -> None:
    tree = rules.tree_of(data.BIG_SPENDERS)

    assert rules.compile_rule(tree).rule == {"and": [data.BIG_SPENDERS]}


def test_each_node_knows_its_path_in_the_rule_the_api_counts() -> None:
    compiled = rules.compile_rule(rules.tree_of(README_RULE))

    assert compiled.rule_paths == {
        "": "",
        "0": "and[0]",
        "1": "and[1]",
        "1.0": "and[1].or[0]",
        "1.1": "and[1].or[1]",
        "2": "and[2]",
        "3": "and[3]",
    }
    assert compiled.index_path_of("and[1].or[1]") == "1.1"
    assert compiled.index_path_of("and[3].not.where[0]") == "3"


def test_empty_groups_are_left_out_and_the_paths_of_what_follows_close_up() -> None:
    tree = rules.BuilderNode(rules.GROUP, children=(rules.empty_tree(), rules.tree_of(data.BIG_SPENDERS)))

    compiled = rules.compile_rule(tree)

    assert compiled.rule == {"and": [{"and": [data.BIG_SPENDERS]}]}
    assert compiled.rule_paths == {"": "", "1": "and[0]", "1.0": "and[0].and[0]"}
    assert rules.compile_rule(rules.empty_tree()).rule is None


def test_adding_and_removing_nodes_by_index_path() -> None:
    tree = rules.tree_of(data.LOYAL_IN_LONDON_OR_MUMBAI)

    tree = rules.add_child(tree, "0", rules.BuilderNode(rules.FIELD, field="city", op="=", value="Paris"))
    tree = rules.remove_node(tree, "1")

    assert rules.compile_rule(tree).rule == {
        "and": [{"or": [*LOYAL_IN_LONDON_OR_MUMBAI["and"][0]["or"], {"field": "city", "op": "=", "value": "Paris"}]}]
    }


def test_the_tree_is_read_back_from_the_widgets_keyed_by_index_path() -> None:
    tree = rules.tree_of(data.LOYAL_IN_LONDON_OR_MUMBAI)
    state = {
        rules.widget_key("", "mode"): "or",
        rules.widget_key("0", "not"): True,
        rules.widget_key("0.0", "value:number"): 2500.0,
        rules.widget_key("1", "field"): "order_count",
        rules.widget_key("1", "op"): "in",
        rules.widget_key("1", "value:list"): "1, 2,, 3",
    }

    read = rules.compile_rule(rules.read_tree(tree, state, CATALOG)).rule

    loyal = LOYAL_IN_LONDON_OR_MUMBAI["and"][0]["or"]
    assert read == {
        "or": [
            {"not": {"or": [{"field": "total_spend", "op": ">", "value": 2500.0}, loyal[1]]}},
            {"field": "order_count", "op": "in", "value": [1, 2, 3]},
        ]
    }


def test_a_new_field_starts_with_its_first_operator_and_no_value_not_an_example() -> None:
    tree = rules.tree_of({"field": "total_spend", "op": "between", "value": [1, 5]})
    state = {rules.widget_key("0", "field"): "city", rules.widget_key("0", "op"): "between"}
    chose_equals = {**state, rules.widget_key("0", "op"): "="}

    for chosen in (state, chose_equals):
        read = rules.read_tree(tree, chosen, CATALOG)
        assert rules.unfinished(read, CATALOG) == {"0": "Give it a value: the condition counts once it has one."}
        assert rules.compile_rule(read, leave_out=rules.unfinished(read, CATALOG)).rule is None
    assert rules.node_at(rules.read_tree(tree, chose_equals, CATALOG), "0").value is None  # not "London"


def test_a_new_condition_has_no_value_so_nothing_is_silently_matched_against_an_example() -> None:
    email = Feature("email", "string", "e-mail", ("contains",), ("ada@example.com",))
    catalog = {"email": email, **CATALOG}

    tree = rules.add_child(rules.empty_tree(), "", rules.new_condition(catalog.values()))
    state = {rules.widget_key("0", "field"): "email", rules.widget_key("0", "op"): "contains"}
    read = rules.read_tree(tree, state, catalog)

    assert rules.node_at(read, "0").value == ""
    assert rules.unfinished(read, catalog) == {"0": "Give it a value: the condition counts once it has one."}
    assert rules.compile_rule(read, leave_out=rules.unfinished(read, catalog)).rule is None


def test_letters_where_a_number_goes_are_refused_with_a_message_not_read_as_zero() -> None:
    tree = rules.tree_of({"and": [{"field": "order_count", "op": "in", "value": [1]}, data.BIG_SPENDERS]})
    state = {rules.widget_key("0", "value:list"): "1, two, 3"}

    read = rules.read_tree(tree, state, CATALOG)
    lacking = rules.unfinished(read, CATALOG)

    assert lacking == {"0": "“two” is not a whole number: type digits only, e.g. 1200."}
    assert rules.compile_rule(read, leave_out=lacking).rule == {"and": [data.BIG_SPENDERS]}


def test_an_emptied_number_is_missing_not_zero() -> None:
    tree = rules.tree_of({"and": [data.BIG_SPENDERS]})

    read = rules.read_tree(tree, {rules.widget_key("0", "value:number"): None}, CATALOG)

    assert rules.unfinished(read, CATALOG) == {"0": "Give it a value: the condition counts once it has one."}


@pytest.mark.parametrize(
    ("field", "op", "kind", "value", "shown"),
    [
        ("total_spend", ">", "number", 10000, 10000.0),
        ("order_count", ">=", "integer", 3, 3),
        ("city", "in", "choices", ["London", "Mumbai"], ["London", "Mumbai"]),
        ("order_count", "in", "list", [1, 2], "1, 2"),
        ("city", "=", "choice", "Paris", "Paris"),
        ("email_consent", "=", "boolean", False, False),
        ("last_order_at", "<", "date", "2025-01-31T00:00:00Z", date(2025, 1, 31)),
        ("last_order_at", "within last days", "days", 90, 90),
    ],
)
def test_each_value_gets_the_input_its_field_and_operator_fit_and_comes_back_the_same(
    field: str, op: str, kind: str, value: Any, shown: Any
) -> None:
    feature = CATALOG[field]

    assert rules.value_kind(feature, op) == kind
    assert rules.widget_value(kind, value) == shown
    assert rules.rule_value(kind, shown, feature) == value


def test_operators_without_a_value_get_no_input() -> None:
    assert rules.value_kind(CATALOG["total_spend"], "is set") is None


def test_the_drawing_names_each_node_with_its_count() -> None:
    dot = rules.rule_dot(data.LOYAL_IN_LONDON_OR_MUMBAI, {"": 2, "and[0]": 3, "and[1]": 4}, {"city": "city"})

    assert 'label="ALL of\\n2 customers"' in dot
    assert 'label="ANY of\\n3 customers"' in dot
    assert 'label="city in [London, Mumbai]\\n4 customers"' in dot
    assert 'label="total_spend > 1,000"' in dot  # grouped, as the rest of the dashboard writes numbers
    assert dot.count("->") == 4


def test_the_drawing_fits_a_phone_top_to_bottom_with_short_lines() -> None:
    rule = {"or": [{"field": "email", "op": "contains", "value": "big-company.example"}, data.BIG_SPENDERS]}

    dot = rules.rule_dot(rule, {"": 12_345}, {"email": "e-mail address"})

    assert "rankdir=TB" in dot
    assert 'label="e-mail address contains\\nbig-company.example"' in dot
    assert 'label="ANY of\\n12,345 customers"' in dot
