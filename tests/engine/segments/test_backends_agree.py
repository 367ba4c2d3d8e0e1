"""Every representative rule gives the same, hand-checked members on Polars, DuckDB and Postgres.

The customers and events below are small enough to check each expected set by reading them; nulls sit
in every column, and boundary values (exactly 10,000 spent, an order exactly 30 days ago, an event in
the future, an event without a customer) catch off-by-one and null-handling slips.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import polars as pl
import pytest

from engine.segments.validation import parse_rule
from tests.engine.segments.conftest import NOW, MakeEvaluator


def days_ago(days: float) -> Any:
    return NOW - timedelta(days=days)


FEATURES = pl.DataFrame(
    {
        "customer_id": [1, 2, 3, 4, 5, 6],
        "total_spend": [12000.0, 15000.0, None, 500.0, 0.0, 10000.0],
        "order_count": [2, 5, None, 1, 0, 3],
        "city": ["Paris", "London", None, "Paris", "Lyon", "Mumbai"],
        "country": ["FR", "GB", None, "FR", "FR", "IN"],
        "email": ["ada@gmail.com", "bob@example.com", None, "cy@GMAIL.com", "dee@example.org", "eve@gmail.co"],
        "email_consent": [True, False, None, True, None, False],
        "last_order_at": [days_ago(100), days_ago(10), None, days_ago(91), None, days_ago(30)],
        "signed_up_at": [days_ago(400), days_ago(20), None, days_ago(91), days_ago(5), days_ago(1000)],
        "trait_plan": ["gold", "free", None, "gold", None, "platinum"],
        "trait_birthday": [date(1990, 5, 1), None, None, date(2000, 1, 1), None, date(1985, 12, 31)],
        "trait_score": [10, None, None, 3, 7, -2],
    },
    schema_overrides={"last_order_at": pl.Datetime("us", "UTC"), "signed_up_at": pl.Datetime("us", "UTC")},
).with_columns(
    pl.col("city").cast(pl.Enum(["London", "Lyon", "Mumbai", "Paris"])),
    pl.col("country").cast(pl.Categorical),
)


def event(customer_id: int | None, name: str, days: float, **properties: Any) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "name": name,
        "occurred_at": days_ago(days),
        "properties": json.dumps(properties),
    }


EVENTS = pl.DataFrame(
    [
        event(1, "purchase", 1, category="shoes", price=120),
        event(1, "purchase", 40, category="hats", price=15.5),
        event(1, "login", 2),
        event(2, "purchase", 5, category="shoes", price="120"),
        event(2, "purchase", 6, category="shoes", price=80, gift=True),
        event(2, "purchase", 7, category="bags", price=300, gift=None),
        event(4, "purchase", 400, category="shoes"),
        event(4, "login", 1),
        event(6, "login", 50),
        event(6, "purchase", -1, category="shoes", price=999),
        event(None, "purchase", 1, category="shoes", price=500),
    ],
    schema={
        "customer_id": pl.Int64,
        "name": pl.String,
        "occurred_at": pl.Datetime("us", "UTC"),
        "properties": pl.String,
    },
)

RULES: list[tuple[str, dict[str, Any], set[int]]] = [
    ("over", {"field": "total_spend", "op": ">", "value": 10000}, {1, 2}),
    ("at least", {"field": "total_spend", "op": ">=", "value": 10000}, {1, 2, 6}),
    ("not equal skips unset", {"field": "total_spend", "op": "!=", "value": 500}, {1, 2, 5, 6}),
    ("not of equal keeps unset", {"not": {"field": "total_spend", "op": "=", "value": 500}}, {1, 2, 3, 5, 6}),
    ("enum equal", {"field": "city", "op": "=", "value": "Paris"}, {1, 4}),
    ("enum not equal", {"field": "city", "op": "!=", "value": "Paris"}, {2, 5, 6}),
    ("enum unknown value", {"field": "city", "op": "=", "value": "Atlantis"}, set()),
    ("enum in", {"field": "city", "op": "in", "value": ["Paris", "Lyon", "Atlantis"]}, {1, 4, 5}),
    ("enum not in", {"field": "city", "op": "not in", "value": ["Paris"]}, {2, 5, 6}),
    ("categorical in", {"field": "country", "op": "in", "value": ["FR"]}, {1, 4, 5}),
    ("category starts with", {"field": "city", "op": "starts with", "value": "L"}, {2, 5}),
    ("contains is case-sensitive", {"field": "email", "op": "contains", "value": "gmail"}, {1, 6}),
    ("starts with", {"field": "email", "op": "starts with", "value": "dee"}, {5}),
    ("is set", {"field": "email", "op": "is set"}, {1, 2, 4, 5, 6}),
    ("is not set", {"field": "email", "op": "is not set"}, {3}),
    ("boolean true", {"field": "email_consent", "op": "=", "value": True}, {1, 4}),
    ("boolean not true", {"field": "email_consent", "op": "!=", "value": True}, {2, 6}),
    ("more than days ago", {"field": "last_order_at", "op": "more than days ago", "value": 90}, {1, 4}),
    ("within last days is inclusive", {"field": "last_order_at", "op": "within last days", "value": 30}, {2, 6}),
    (
        "datetime between",
        {"field": "signed_up_at", "op": "between", "value": ["2025-01-01T00:00:00Z", "2025-05-31"]},
        {2, 4, 5},
    ),
    ("datetime before", {"field": "signed_up_at", "op": "<", "value": "2024-06-01T00:00:00+02:00"}, {1, 6}),
    ("date before", {"field": "trait_birthday", "op": "<", "value": "1995-01-01"}, {1, 6}),
    ("date more than days ago", {"field": "trait_birthday", "op": "more than days ago", "value": 9000}, {1, 4, 6}),
    ("integer between", {"field": "trait_score", "op": "between", "value": [0, 7]}, {4, 5}),
    ("integer in with a fraction", {"field": "trait_score", "op": "in", "value": [10, 3.5]}, {1}),
    ("integer under a fraction", {"field": "order_count", "op": "<", "value": 2.5}, {1, 4, 5}),
    ("trait contains", {"field": "trait_plan", "op": "contains", "value": "o"}, {1, 4}),
    ("performed ever, not in future", {"event": "purchase"}, {1, 2, 4}),
    ("performed twice lately", {"event": "purchase", "count": 2, "within_days": 30}, {2}),
    (
        "string property",
        {"event": "purchase", "where": [{"property": "category", "op": "=", "value": "shoes"}]},
        {1, 2, 4},
    ),
    ("number property", {"event": "purchase", "where": [{"property": "price", "op": ">", "value": 100}]}, {1, 2}),
    (
        "text number is not a number",
        {"event": "purchase", "where": [{"property": "price", "op": "=", "value": "120"}]},
        {2},
    ),
    ("boolean property", {"event": "purchase", "where": [{"property": "gift", "op": "=", "value": True}]}, {2}),
    ("null property is not set", {"event": "purchase", "where": [{"property": "gift", "op": "is set"}]}, {2}),
    (
        "property not set",
        {"event": "purchase", "where": [{"property": "price", "op": "is not set"}]},
        {4},
    ),
    (
        "property not in",
        {"event": "purchase", "where": [{"property": "category", "op": "not in", "value": ["shoes", "bags"]}]},
        {1},
    ),
    (
        "property contains",
        {"event": "purchase", "where": [{"property": "category", "op": "contains", "value": "ag"}]},
        {2},
    ),
    ("never", {"never": "purchase"}, {3, 5, 6}),
    ("never lately", {"never": "purchase", "within_days": 30}, {3, 4, 5, 6}),
    ("at most once", {"event": "purchase", "op": "at most", "count": 1}, {3, 4, 5, 6}),
    ("exactly twice", {"event": "purchase", "op": "exactly", "count": 2}, {1}),
    ("exactly zero", {"event": "login", "op": "exactly", "count": 0, "within_days": 7}, {2, 3, 5, 6}),
    (
        "filtered count in window",
        {
            "event": "purchase",
            "where": [{"property": "category", "op": "in", "value": ["shoes", "bags"]}],
            "op": "at least",
            "count": 2,
            "within_days": 10,
        },
        {2},
    ),
    (
        "issue's example",
        {
            "or": [
                {
                    "and": [
                        {"field": "total_spend", "op": ">", "value": 10000},
                        {"field": "order_count", "op": "<", "value": 3},
                    ]
                },
                {"field": "last_order_at", "op": "more than days ago", "value": 90},
            ]
        },
        {1, 4},
    ),
    (
        "nested not over or",
        {
            "and": [
                {"field": "city", "op": "in", "value": ["Paris", "Lyon"]},
                {
                    "not": {
                        "or": [
                            {"field": "email", "op": "contains", "value": "gmail"},
                            {"event": "purchase", "within_days": 30},
                        ]
                    }
                },
            ]
        },
        {4, 5},
    ),
    ("double not", {"not": {"not": {"field": "email_consent", "op": "=", "value": True}}}, {1, 4}),
]


@pytest.mark.parametrize(("rule", "expected"), [pytest.param(r, e, id=name) for name, r, e in RULES])
def test_every_backend_finds_the_expected_members(
    backend: MakeEvaluator, rule: dict[str, Any], expected: set[int]
) -> None:
    evaluator = backend(FEATURES, EVENTS)
    members = evaluator.member_ids(parse_rule(rule))
    assert members == sorted(expected)
    assert evaluator.count(parse_rule(rule)) == len(expected)
