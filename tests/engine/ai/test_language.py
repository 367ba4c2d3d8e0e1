"""The local reader of plain language: many phrasings to the rule they mean, and refusals that point at words."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from engine.ai.errors import NotUnderstood
from engine.ai.language import parse_text
from engine.features.catalog import base_catalog, catalog_for_schema
from engine.segments import dump_rule

CATALOG = base_catalog()


def read(text: str) -> dict[str, Any]:
    return dump_rule(parse_text(text, CATALOG))


def field(name: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"field": name, "op": op} if value is None else {"field": name, "op": op, "value": value}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("spent over ₹10K", 10_000),
        ("spent over Rs 1.5 lakh", 150_000),
        ("spent over Rs. 2 lakhs", 200_000),
        ("spent over $2M", 2_000_000),
        ("spent over 1 crore", 10_000_000),
        ("spent over ₹ 25,000", 25_000),
        ("spent over 1,50,000 rupees", 150_000),
        ("spent over 2.5k", 2_500),
        ("spent over INR 999.50", 999.5),
    ],
)
def test_amounts_are_read_with_currency_symbols_and_indian_and_metric_suffixes(text: str, value: float) -> None:
    assert read(text) == field("total_spend", ">", value)


@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        ("customers who spent more than 5000", ">", 5000),
        ("spent above 5000", ">", 5000),
        ("spent at least 5000", ">=", 5000),
        ("spent no less than 5000", ">=", 5000),
        ("spent 5000 or more", ">=", 5000),
        ("₹5000+ spenders", ">=", 5000),
        ("spent under 5000", "<", 5000),
        ("spent less than 5000", "<", 5000),
        ("spent at most 5000", "<=", 5000),
        ("spent up to 5000", "<=", 5000),
        ("spent between 2000 and 5000", "between", [2000, 5000]),
        ("spent from 2000 to 5000", "between", [2000, 5000]),
        ("spent ₹2K-5K", "between", [2000, 5000]),
    ],
)
def test_comparisons_in_words_become_operators(text: str, op: str, value: Any) -> None:
    assert read(text) == field("total_spend", op, value)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("ordered fewer than 3 times", field("order_count", "<", 3)),
        ("placed more than 5 orders", field("order_count", ">", 5)),
        ("with 3+ orders", field("order_count", ">=", 3)),
        ("bought twice", field("order_count", "=", 2)),
        ("ordered more than once", field("order_count", ">", 1)),
        ("ordered at least 3 times last month", field("orders_30d", ">=", 3)),
        ("made at least 2 purchases in the last year", field("orders_365d", ">=", 2)),
        ("spent over 5K in the last 90 days", field("spend_90d", ">", 5000)),
        ("spend last quarter over 1000", field("spend_90d", ">", 1000)),
        ("ordered in the last 30 days", field("last_order_at", "within last days", 30)),
        ("bought something in the past 2 weeks", field("last_order_at", "within last days", 14)),
        ("haven't ordered in 3 months", {"not": field("last_order_at", "within last days", 90)}),
        ("inactive for 90 days", field("last_order_at", "more than days ago", 90)),
        ("dormant for over 6 months", field("last_order_at", "more than days ago", 180)),
        ("last ordered more than 60 days ago", field("last_order_at", "more than days ago", 60)),
        ("whose last purchase was less than a week ago", field("last_order_at", "within last days", 7)),
        ("signed up in the last 12 months", field("signed_up_at", "within last days", 365)),
        ("joined before 1 March 2025", field("signed_up_at", "<", "2025-03-01")),
        ("never ordered", field("order_count", "=", 0)),
        ("repeat customers", field("order_count", ">=", 2)),
    ],
)
def test_orders_spend_and_recency(text: str, rule: dict[str, Any]) -> None:
    assert read(text) == rule


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("in Mumbai or Delhi", field("city", "in", ["Mumbai", "Delhi"])),
        ("from Bombay, Bangalore and Calcutta", field("city", "in", ["Mumbai", "Bengaluru", "Kolkata"])),
        ("not in Pune", field("city", "!=", "Pune")),
        ("outside Delhi and Mumbai", field("city", "not in", ["Delhi", "Mumbai"])),
        ("Chennai-based customers", field("city", "=", "Chennai")),
        ("customers in Springfield", field("city", "=", "Springfield")),
        ("from the UK", field("country", "=", "GB")),
        ("whose city is one of Pune, Nagpur", field("city", "in", ["Pune", "Nagpur"])),
        ("without a city", field("city", "is not set")),
    ],
)
def test_places_and_sets(text: str, rule: dict[str, Any]) -> None:
    assert read(text) == rule


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("opened an email", {"event": "Email Opened"}),
        ("never opened an email", {"never": "Email Opened"}),
        ("opened at least 2 emails in the last 30 days", {"event": "Email Opened", "count": 2, "within_days": 30}),
        ("haven't opened any email in 60 days", {"never": "Email Opened", "within_days": 60}),
        ("viewed products more than 5 times last week", {"event": "Product Viewed", "count": 6, "within_days": 7}),
        ("with at least 3 cart adds", {"event": "Added To Cart", "count": 3}),
        ("opened the app yesterday", {"event": "App Opened", "within_days": 1}),
        (
            "added to cart but didn't order",
            {"and": [{"event": "Added To Cart"}, field("order_count", "=", 0)]},
        ),
        ("opted in to SMS", field("sms_consent", "=", True)),
        ("unsubscribed from email", field("email_consent", "=", False)),
        ("customers we can text", field("sms_consent", "=", True)),
    ],
)
def test_behaviour_and_consent(text: str, rule: dict[str, Any]) -> None:
    assert read(text) == rule


def test_the_issues_example_groups_but_before_the_comma_or() -> None:
    rule = read("customers who spent over ₹10K but ordered fewer than 3 times, or haven't bought anything in 90 days")

    assert rule == {
        "or": [
            {"and": [field("total_spend", ">", 10_000), field("order_count", "<", 3)]},
            {"not": field("last_order_at", "within last days", 90)},
        ]
    }


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        (
            "in Mumbai or Delhi, and opted in to SMS",
            {"and": [field("city", "in", ["Mumbai", "Delhi"]), field("sms_consent", "=", True)]},
        ),
        (
            "opened an email or spent over 5000 and ordered twice",
            {
                "or": [
                    {"event": "Email Opened"},
                    {"and": [field("total_spend", ">", 5000), field("order_count", "=", 2)]},
                ]
            },
        ),
        (
            "spent over 10k and (ordered more than 3 times or opened an email)",
            {
                "and": [
                    field("total_spend", ">", 10_000),
                    {"or": [field("order_count", ">", 3), {"event": "Email Opened"}]},
                ]
            },
        ),
        (
            "spent over 5000 excluding those in Pune",
            {"and": [field("total_spend", ">", 5000), {"not": field("city", "=", "Pune")}]},
        ),
        (
            "Hyderabad customers who spent over 3000 with a phone number",
            {"and": [field("city", "=", "Hyderabad"), field("total_spend", ">", 3000), field("phone", "is set")]},
        ),
    ],
)
def test_and_or_not_with_grouping(text: str, rule: dict[str, Any]) -> None:
    assert read(text) == rule


def test_trait_features_are_named_by_their_label() -> None:
    catalog = catalog_for_schema({"trait_loyalty_tier": pl.String(), "trait_age": pl.Int64()})

    assert dump_rule(parse_text("loyalty tier is gold or silver, and age over 30", catalog)) == {
        "and": [field("trait_loyalty_tier", "in", ["gold", "silver"]), field("trait_age", ">", 30)]
    }


def unparsed(text: str) -> list[tuple[str, str]]:
    with pytest.raises(NotUnderstood) as refused:
        parse_text(text, CATALOG)
    for item in refused.value.unparsed:
        assert text[item.start : item.end] == item.text
    return [(item.text, item.reason) for item in refused.value.unparsed]


def test_words_it_cannot_read_are_pointed_at_with_their_positions() -> None:
    assert unparsed("customers in Mumbai who love our brand and spent over 5000") == [
        ("love our brand", "not understood")
    ]


def test_every_unreadable_stretch_is_reported_at_once() -> None:
    assert [text for text, _ in unparsed("big spenders in Mumbai with funny hats")] == ["big spenders", "funny hats"]


def test_a_window_the_catalog_has_no_feature_for_is_refused_with_the_reason() -> None:
    [(words, reason)] = unparsed("spent over ₹5K in the last 45 days")

    assert words == "in the last 45 days"
    assert "30, 90 and 365" in reason


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("lapsed customers", "lapsed"),
        ("customers who opted in to WhatsApp", "opted in to WhatsApp"),
        ("spent over", "over"),
        ("customers who bought a saree", "saree"),
    ],
)
def test_vague_or_unsupported_requests_are_refused_not_guessed(text: str, words: str) -> None:
    assert words in [found for found, _ in unparsed(text)]


def test_a_sentence_naming_no_condition_is_refused() -> None:
    [(words, reason)] = unparsed("all customers")

    assert words == "all customers"
    assert reason.startswith("no condition found")
