"""Rules checked against the feature catalog: each problem names the path, the field and what is wrong."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from engine.features.catalog import Catalog, base_catalog, catalog_for_schema
from engine.segments.errors import RuleError
from engine.segments.rules import And, Condition
from engine.segments.validation import parse_rule


def problems(data: Any, catalog: Catalog | None = None) -> list[str]:
    with pytest.raises(RuleError) as refused:
        parse_rule(data, catalog or base_catalog())
    return [str(problem) for problem in refused.value.problems]


def test_an_unknown_field_is_named_with_a_suggestion() -> None:
    assert problems(
        {"and": [{"field": "city", "op": "is set"}, {"or": [{"field": "totl_spend", "op": ">", "value": 3}]}]}
    ) == ["and[1].or[0]: totl_spend: unknown field (did you mean `total_spend`?)"]


def test_an_operator_that_does_not_suit_the_type_lists_those_that_do() -> None:
    [message] = problems({"field": "email_consent", "op": ">", "value": True})
    assert message == (
        "rule: email_consent: `>` does not apply to a boolean field; use one of `!=`, `=`, `is not set`, `is set`"
    )


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"field": "total_spend", "op": "=", "value": "lots"}, "total_spend is a number; give a number"),
        ({"field": "order_count", "op": "in", "value": [1, True]}, "the values of `in` must all be of one type"),
        ({"field": "city", "op": "=", "value": 3}, "city is text; give a string"),
        ({"field": "email_consent", "op": "=", "value": "yes"}, "email_consent is true or false"),
        ({"field": "signed_up_at", "op": ">", "value": "last week"}, "give a date and time like"),
        ({"field": "last_order_at", "op": "between", "value": ["2025-02-01", "2025-01-01"]}, "needs low <= high"),
        ({"field": "trait_birthday", "op": "<", "value": "1990-13-01"}, "give a date like 2025-01-31"),
    ],
)
def test_bad_values_are_refused(condition: dict[str, Any], message: str) -> None:
    catalog = catalog_for_schema({"trait_birthday": pl.Date()})
    [problem] = problems(condition, catalog)
    assert message in problem


def test_operators_for_times_and_text() -> None:
    assert (
        "`contains` does not apply to a datetime field"
        in problems({"field": "last_order_at", "op": "contains", "value": "2025"})[0]
    )
    assert (
        "`within last days` does not apply to a number field"
        in problems({"field": "total_spend", "op": "within last days", "value": 3})[0]
    )


def test_valid_rules_over_traits_pass() -> None:
    catalog = catalog_for_schema({"trait_plan": pl.Categorical(), "trait_age": pl.Int16()})
    rule = parse_rule(
        {
            "and": [
                {"field": "trait_plan", "op": "starts with", "value": "go"},
                {"field": "trait_age", "op": ">=", "value": 18},
            ]
        },
        catalog,
    )
    assert isinstance(rule, And)
    assert [child.field for child in rule.children if isinstance(child, Condition)] == ["trait_plan", "trait_age"]
