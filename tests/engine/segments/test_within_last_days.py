""" "Within the last N days" means at most N whole days ago, as `days_since_last_order` counts, on every backend.

A customer whose last order was 30.4 days ago has `days_since_last_order = 30`; a rule saying "within the
last 30 days" used to leave them out (a 30 x 24 h window) while the feature said 30. Now both agree, for
feature conditions and event windows alike, and "more than N days ago" is exactly the rest.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl

from engine.segments.validation import parse_rule
from tests.engine.segments.conftest import NOW, MakeEvaluator

AGES = {1: 29.9, 2: 30.0, 3: 30.4, 4: 31 - 1e-6, 5: 31.0, 6: 31.5}  # days before NOW
FEATURES = pl.DataFrame(
    {
        "customer_id": list(AGES),
        "last_order_at": [NOW - timedelta(days=age) for age in AGES.values()],
        "days_since_last_order": [29, 30, 30, 30, 31, 31],
    },
    schema_overrides={"last_order_at": pl.Datetime("us", "UTC")},
)
EVENTS = pl.DataFrame(
    [
        {"customer_id": id_, "name": "Email Opened", "occurred_at": NOW - timedelta(days=age), "properties": "{}"}
        for id_, age in AGES.items()
    ],
    schema={
        "customer_id": pl.Int64,
        "name": pl.String,
        "occurred_at": pl.Datetime("us", "UTC"),
        "properties": pl.String,
    },
)
WITHIN_30 = {1, 2, 3, 4}  # 30 whole days or fewer


def members(backend: MakeEvaluator, rule: dict[str, Any]) -> set[int]:
    evaluator = backend(FEATURES, EVENTS)
    return set(evaluator.member_ids(parse_rule(rule, evaluator.catalog)))


def test_a_last_order_30_4_days_ago_is_within_the_last_30_days_as_its_days_since_says(backend: MakeEvaluator) -> None:
    by_feature = members(backend, {"field": "days_since_last_order", "op": "<=", "value": 30})

    assert members(backend, {"field": "last_order_at", "op": "within last days", "value": 30}) == WITHIN_30
    assert by_feature == WITHIN_30


def test_more_than_30_days_ago_is_exactly_the_rest(backend: MakeEvaluator) -> None:
    assert members(backend, {"field": "last_order_at", "op": "more than days ago", "value": 30}) == {5, 6}


def test_an_event_window_counts_whole_days_too(backend: MakeEvaluator) -> None:
    assert members(backend, {"event": "Email Opened", "within_days": 30}) == WITHIN_30
    assert members(backend, {"never": "Email Opened", "within_days": 30}) == {5, 6}
