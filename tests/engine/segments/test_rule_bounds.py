"""Rule values no compiler can handle are refused when the rule is parsed; values at the bounds work everywhere.

Each refused case below once parsed, then failed inside a compiler (`OverflowError` from date arithmetic,
`bigint out of range` or a NUL in Postgres), which the API answered with a 500.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.postgres_safe import BIGINT_MAX, BIGINT_MIN
from engine.segments.errors import RuleError
from engine.segments.rules import MAX_DAYS, MAX_EVENT_COUNT, MAX_RULE_DEPTH, MAX_RULE_TESTS
from engine.segments.validation import parse_rule
from tests.engine.segments.conftest import MakeEvaluator, snapshot_catalog
from tests.engine.segments.test_backends_agree import EVENTS, FEATURES

CATALOG = snapshot_catalog(FEATURES)


@pytest.mark.parametrize(
    ("rule", "path", "field", "says"),
    [
        ({"field": "last_order_at", "op": "within last days", "value": 800_000}, "", "last_order_at", "36,500"),
        ({"field": "last_order_at", "op": "within last days", "value": 10**12}, "", "last_order_at", "36,500"),
        ({"field": "signed_up_at", "op": "more than days ago", "value": 10**9}, "", "signed_up_at", "36,500"),
        (
            {"and": [{"event": "purchase", "within_days": 1_000_000}]},
            "and[0]",
            None,
            "within_days: Input should be less than or equal to 36500",
        ),
        (
            {"never": "purchase", "within_days": MAX_DAYS + 1},
            "",
            None,
            "within_days: Input should be less than or equal to 36500",
        ),
        ({"event": "purchase", "count": 10**12}, "", None, "count: Input should be less than or equal to 1000000000"),
        ({"field": "trait_score", "op": ">", "value": 10**30}, "", "trait_score", "64 bits"),
        ({"field": "trait_score", "op": "in", "value": [1, BIGINT_MAX + 1]}, "", "trait_score", "64 bits"),
        ({"field": "trait_score", "op": "between", "value": [BIGINT_MIN - 1, 0]}, "", "trait_score", "64 bits"),
        (
            {"event": "purchase", "where": [{"property": "price", "op": ">", "value": 10**400}]},
            "where[0]",
            "price",
            "64 bits",
        ),
        ({"field": "city", "op": "=", "value": "Par\u0000is"}, "", "city", "NUL"),
        ({"event": "pur\u0000chase"}, "", None, "NUL"),
        ({"field": "last_order_at", "op": ">", "value": "0001-01-01T00:00:00+01:00"}, "", "last_order_at", "9999"),
    ],
)
def test_a_value_a_compiler_would_overflow_on_is_refused_when_the_rule_is_parsed(
    rule: dict[str, Any], path: str, field: str | None, says: str
) -> None:
    with pytest.raises(RuleError) as refused:
        parse_rule(rule, CATALOG)

    [problem] = refused.value.problems
    assert (problem.path, problem.field) == (path, field)
    assert says in problem.message


HAS_SCORE = {1, 4, 5, 6}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"field": "last_order_at", "op": "within last days", "value": MAX_DAYS}, {1, 2, 4, 6}),
        ({"field": "last_order_at", "op": "more than days ago", "value": MAX_DAYS}, set()),
        ({"field": "trait_birthday", "op": "within last days", "value": MAX_DAYS}, {1, 4, 6}),
        ({"event": "purchase", "within_days": MAX_DAYS}, {1, 2, 4}),
        ({"never": "login", "within_days": MAX_DAYS}, {2, 3, 5}),
        ({"event": "purchase", "op": "at least", "count": MAX_EVENT_COUNT}, set()),
        ({"event": "purchase", "op": "at most", "count": MAX_EVENT_COUNT}, {1, 2, 3, 4, 5, 6}),
        ({"field": "trait_score", "op": ">", "value": BIGINT_MAX}, set()),
        ({"field": "trait_score", "op": ">", "value": BIGINT_MIN}, HAS_SCORE),
        ({"field": "trait_score", "op": "in", "value": [BIGINT_MIN, BIGINT_MAX, 7]}, {5}),
        ({"field": "order_count", "op": "between", "value": [BIGINT_MIN, BIGINT_MAX]}, {1, 2, 4, 5, 6}),
        ({"field": "total_spend", "op": "<", "value": BIGINT_MAX}, {1, 2, 4, 5, 6}),
        ({"field": "total_spend", "op": ">", "value": -1e308}, {1, 2, 4, 5, 6}),
        ({"event": "purchase", "where": [{"property": "price", "op": "<", "value": BIGINT_MAX}]}, {1, 2}),
        ({"field": "last_order_at", "op": ">", "value": "0001-01-01T00:00:00Z"}, {1, 2, 4, 6}),
        ({"field": "last_order_at", "op": "<", "value": "9999-12-31T23:59:59Z"}, {1, 2, 4, 6}),
        ({"field": "trait_birthday", "op": "between", "value": ["0001-01-01", "9999-12-31"]}, {1, 4, 6}),
    ],
)
def test_values_at_the_bounds_give_the_same_members_on_every_backend(
    backend: MakeEvaluator, rule: dict[str, Any], expected: set[int]
) -> None:
    evaluator = backend(FEATURES, EVENTS)

    assert evaluator.member_ids(parse_rule(rule, CATALOG)) == sorted(expected)


def nested(levels: int) -> dict[str, Any]:
    """A rule `levels` deep: groups around groups around one event condition."""
    rule: dict[str, Any] = {"event": "purchase", "where": [{"property": "price", "op": ">", "value": 100}]}
    for level in range(levels - 1):
        rule = {"not": rule} if level % 2 else {"and": [rule, {"field": "city", "op": "is set"}]}
    return rule


def test_a_rule_nested_deeper_than_the_bound_is_refused_at_the_first_level_too_deep() -> None:
    with pytest.raises(RuleError) as refused:
        parse_rule(nested(100))  # DuckDB spent minutes planning this one, then failed

    [problem] = refused.value.problems
    assert problem.path.count(".") + 2 == MAX_RULE_DEPTH + 1
    assert problem.message == f"a rule nests at most {MAX_RULE_DEPTH} levels deep"


def test_a_rule_with_more_tests_than_the_bound_is_refused() -> None:
    tests = [{"event": f"e{n}", "where": [{"property": "price", "op": ">", "value": n}]} for n in range(51)]

    with pytest.raises(RuleError) as refused:
        parse_rule({"or": tests})  # 1,000 of these were past DuckDB's expression depth limit

    assert [problem.message for problem in refused.value.problems] == [
        f"a rule holds at most {MAX_RULE_TESTS} conditions and property filters; this one has 102"
    ]


def test_a_rule_as_large_as_allowed_gives_the_same_members_on_every_backend(backend: MakeEvaluator) -> None:
    evaluator = backend(FEATURES, EVENTS)
    deepest = parse_rule(nested(MAX_RULE_DEPTH), CATALOG)
    widest = parse_rule({"or": [{"field": "trait_score", "op": "=", "value": n} for n in range(MAX_RULE_TESTS)]})

    assert evaluator.member_ids(deepest) == [4, 5, 6]
    assert evaluator.member_ids(widest) == [1, 4, 5]
