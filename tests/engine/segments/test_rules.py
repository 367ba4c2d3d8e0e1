"""The rule language's JSON: it round-trips, refuses malformed trees with paths, and has a JSON Schema."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from engine.features.catalog import base_catalog
from engine.segments.errors import RuleError
from engine.segments.rules import And, Condition, Not, Or, Performed, PropertyFilter, rule_json_schema, walk
from engine.segments.validation import dump_rule, parse_rule

STORED = {
    "or": [
        {
            "and": [
                {"field": "total_spend", "op": ">", "value": 10000},
                {"field": "city", "op": "in", "value": ["Paris", "Lyon"]},
            ]
        },
        {"not": {"field": "email", "op": "is set"}},
        {
            "event": "purchase",
            "where": [{"property": "category", "op": "=", "value": "shoes"}],
            "op": "exactly",
            "count": 2,
            "within_days": 30,
        },
        {"never": "login", "within_days": 90},
    ]
}


def test_stored_json_parses_to_nodes_and_dumps_back_unchanged() -> None:
    rule = parse_rule(json.dumps(STORED), base_catalog())

    assert isinstance(rule, Or)
    first = rule.children[0]
    assert isinstance(first, And)
    assert first.children[1] == Condition(field="city", op="in", value=("Paris", "Lyon"))
    assert dump_rule(rule) == STORED
    assert parse_rule(dump_rule(rule)) == rule


def test_nodes_built_in_python_dump_to_the_same_json() -> None:
    rule = Or(
        children=(
            And(
                children=(
                    Condition(field="total_spend", op=">", value=10000),
                    Condition(field="city", op="in", value=("Paris", "Lyon")),
                )
            ),
            Not(child=Condition(field="email", op="is set")),
            Performed(
                event="purchase",
                where=(PropertyFilter(property="category", op="=", value="shoes"),),
                op="exactly",
                count=2,
                within_days=30,
            ),
            parse_rule({"never": "login", "within_days": 90}),
        )
    )
    assert dump_rule(rule) == STORED


def test_rules_are_hashable_values() -> None:
    assert hash(parse_rule(STORED)) == hash(parse_rule(json.dumps(STORED)))


def test_walk_names_every_node_by_its_path() -> None:
    paths = [path for path, _ in walk(parse_rule(STORED))]
    assert paths == ["", "or[0]", "or[0].and[0]", "or[0].and[1]", "or[1]", "or[1].not", "or[2]", "or[3]"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"and": [{"field": "x", "op": "between", "value": 3}]}, "and[0]: x: `between` needs a list of two values"),
        ({"or": [{"and": [{"foo": 1}]}]}, 'or[0].and[0]: a rule is an object with one of the keys "and"'),
        ({"and": []}, "rule: a group needs at least one rule"),
        ({"field": "x", "op": "~", "value": 1}, "rule: op: '~' is not allowed"),
        ({"not": {"field": "x", "op": "=", "value": [1]}}, "not: x: `=` takes one value, not a list"),
        ({"field": "x", "op": "is set", "value": 1}, "rule: x: `is set` takes no value"),
        ({"field": "x", "op": "in", "value": [1, "a"]}, "the values of `in` must all be of one type"),
        ({"field": "x", "op": "within last days", "value": -1}, "needs a whole number of days"),
        ({"and": [{"field": "x", "op": "=", "value": 1, "extra": 2}]}, "and[0]: unknown key `extra`"),
        (
            {"event": "buy", "where": [{"property": "a.b", "op": "is set"}]},
            "where[0]: property: a property name is 1 to 64 letters",
        ),
        (
            {"event": "buy", "where": [{"property": "price", "op": ">", "value": "cheap"}]},
            "where[0]: price: `>` on an event property needs a number",
        ),
        ({"event": "buy", "count": -1}, "rule: count: Input should be greater than or equal to 0"),
        ("{", "rule: Invalid JSON"),
    ],
)
def test_malformed_rules_are_refused_with_the_path_and_problem(data: Any, message: str) -> None:
    with pytest.raises(RuleError) as refused:
        parse_rule(data)
    assert message in str(refused.value)


def test_every_problem_is_reported_structured() -> None:
    with pytest.raises(RuleError) as refused:
        parse_rule({"and": [{"field": "a", "op": "<"}, {"or": [{"field": "b", "op": "in", "value": []}]}]})
    assert [(p.path, p.field) for p in refused.value.problems] == [("and[0]", "a"), ("and[1].or[0]", "b")]


def test_invalid_nodes_cannot_be_built_in_python_either() -> None:
    with pytest.raises(ValidationError, match="`between` needs a list of two values"):
        Condition(field="total_spend", op="between", value=5)


def test_json_schema_describes_every_node_kind_for_constrained_output() -> None:
    schema = rule_json_schema()
    text = json.dumps(schema)

    assert "oneOf" not in text
    definitions = schema["$defs"]
    assert {"And", "Or", "Not", "Condition", "Performed", "NeverPerformed", "PropertyFilter"} <= set(definitions)
    assert definitions["And"]["required"] == ["and"]
    assert definitions["Condition"]["additionalProperties"] is False
    assert "within last days" in definitions["Condition"]["properties"]["op"]["enum"]
    assert definitions["Performed"]["description"].startswith("Matches customers who performed")
