"""Every rule reads back as one plain-English sentence that keeps the tree's grouping."""

from __future__ import annotations

from typing import Any

import pytest

from engine.segments.english import describe
from engine.segments.validation import parse_rule


@pytest.mark.parametrize(
    ("rule", "sentence"),
    [
        (
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
            "customers whose total spend is over 10,000 and whose order count is under 3, "
            "or whose last order was more than 90 days ago",
        ),
        (
            {"field": "city", "op": "in", "value": ["Paris", "Lyon"]},
            'customers whose city is one of "Paris", "Lyon"',
        ),
        (
            {"field": "signed_up_at", "op": ">=", "value": "2024-01-01T00:00:00+02:00"},
            "customers whose sign-up was on or after 2023-12-31 22:00 UTC",
        ),
        (
            {"field": "spend_90d", "op": "between", "value": [10.5, 2000]},
            "customers whose spend in the last 90 days is between 10.5 and 2,000",
        ),
        ({"field": "email_consent", "op": "=", "value": True}, "customers whose e-mail consent is true"),
        ({"field": "trait_plan", "op": "is not set"}, "customers whose plan is not set"),
        (
            {"not": {"field": "city", "op": "=", "value": "Paris"}},
            'customers who are not among those whose city is "Paris"',
        ),
        (
            {
                "event": "purchase",
                "where": [
                    {"property": "category", "op": "=", "value": "shoes"},
                    {"property": "price", "op": ">", "value": 100},
                ],
                "count": 2,
                "within_days": 30,
            },
            'customers who performed purchase with category "shoes" and price over 100 at least twice '
            "in the last 30 days",
        ),
        ({"event": "login", "op": "at most", "count": 5}, "customers who performed login at most 5 times"),
        ({"never": "purchase"}, "customers who never performed purchase"),
        ({"never": "login", "within_days": 14}, "customers who did not perform login in the last 14 days"),
        (
            {
                "and": [
                    {"field": "country", "op": "=", "value": "IN"},
                    {
                        "or": [
                            {"field": "email", "op": "contains", "value": "gmail"},
                            {"and": [{"field": "sms_consent", "op": "=", "value": True}, {"never": "sms_opt_out"}]},
                        ]
                    },
                ]
            },
            'customers whose country is "IN", and whose e-mail contains "gmail" or (whose SMS consent is true '
            "and who never performed sms_opt_out)",
        ),
    ],
)
def test_rule_reads_as_one_sentence(rule: dict[str, Any], sentence: str) -> None:
    assert describe(parse_rule(rule)) == sentence
