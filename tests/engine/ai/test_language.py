"""The local reader of plain language: many phrasings to the rule they mean; vague words read as the team's
terms and said as assumptions; skipped words pointed at; only a request with no condition refused."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from pydantic import ValidationError

from engine.ai.errors import NotUnderstood
from engine.ai.language import Reading, parse_text
from engine.ai.language.terms import load_terms
from engine.features.catalog import base_catalog, catalog_for_schema
from engine.segments import dump_rule
from engine.settings import Settings

CATALOG = base_catalog()
TODAY = date(2026, 3, 18)


def reading(text: str) -> Reading:
    return parse_text(text, CATALOG, TODAY)


def read(text: str) -> dict[str, Any]:
    return dump_rule(reading(text).rule)


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

    assert dump_rule(parse_text("loyalty tier is gold or silver, and age over 30", catalog, TODAY).rule) == {
        "and": [field("trait_loyalty_tier", "in", ["gold", "silver"]), field("trait_age", ">", 30)]
    }


def unparsed(text: str) -> list[tuple[str, str]]:
    """The words a request refused whole was refused for, checked to point at the user's own text."""
    with pytest.raises(NotUnderstood) as refused:
        parse_text(text, CATALOG, TODAY)
    for item in refused.value.unparsed:
        assert text[item.start : item.end] == item.text
    return [(item.text, item.reason) for item in refused.value.unparsed]


def skipped(text: str) -> list[tuple[str, str]]:
    """The words a rule was built without, checked to point at the user's own text."""
    found = reading(text)
    for item in found.skipped:
        assert text[item.start : item.end] == item.text
    return [(item.text, item.reason) for item in found.skipped]


def test_an_unreadable_word_no_longer_refuses_the_rest_it_is_skipped_and_pointed_at() -> None:
    text = "customers in Mumbai who love our brand and spent over 5000"

    assert read(text) == {"and": [field("city", "=", "Mumbai"), field("total_spend", ">", 5000)]}
    assert skipped(text) == [("love our brand", "not understood")]


def test_every_unreadable_stretch_is_reported_at_once() -> None:
    assert [words for words, _ in skipped("customers in Mumbai with funny hats or purple socks")] == [
        "funny hats", "purple socks"
    ]  # fmt: skip


def test_a_window_the_catalog_has_no_feature_for_is_refused_with_the_reason() -> None:
    [(words, reason)] = unparsed("spent over ₹5K in the last 45 days")

    assert words == "in the last 45 days"
    assert "30, 90 and 365" in reason


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("customers who opted in to WhatsApp", "opted in to WhatsApp"),
        ("spent over", "over"),
        ("customers aged over 30 in Pune", "aged"),
    ],
)
def test_what_the_catalog_cannot_say_is_named_not_guessed(text: str, words: str) -> None:
    try:
        left_out = skipped(text)
    except NotUnderstood as refused:
        left_out = [(item.text, item.reason) for item in refused.unparsed]
    assert any(words in found for found, _ in left_out)


def test_a_sentence_naming_no_condition_is_refused() -> None:
    [(words, reason)] = unparsed("all customers")

    assert words == "all customers"
    assert reason.startswith("no condition found")


def test_nonsense_is_refused_whole() -> None:
    assert [words for words, _ in unparsed("asdf qwerty zxcv")] == ["asdf qwerty zxcv"]


def test_vips_in_bangalore_are_read_with_the_teams_definition_said_as_an_assumption() -> None:
    found = reading("VIPs in Bangalore who haven't ordered in 2 months")

    assert dump_rule(found.rule) == {
        "and": [
            field("total_spend", ">=", 50_000),
            field("city", "=", "Bengaluru"),
            {"not": field("last_order_at", "within last days", 60)},
        ]
    }
    [assumption] = found.assumptions
    assert assumption.words == "VIPs"
    assert assumption.question == "By “VIPs” I assumed total spend of ₹50,000 or more. Is that what you meant?"


@pytest.mark.parametrize(
    ("text", "rule", "words"),
    [
        ("lapsed customers", field("last_order_at", "more than days ago", 90), "lapsed"),
        ("big spenders in Delhi", {"and": [field("total_spend", ">=", 25_000), field("city", "=", "Delhi")]},
         "big spenders"),
        ("top customers", field("total_spend", ">=", 50_000), "top customers"),
        ("dormant users", field("last_order_at", "more than days ago", 90), "dormant"),
        ("loyal shoppers", field("order_count", ">=", 5), "loyal"),
    ],
)  # fmt: skip
def test_vague_words_become_the_teams_terms_and_say_so(text: str, rule: dict[str, Any], words: str) -> None:
    found = reading(text)

    assert dump_rule(found.rule) == rule
    assert [assumption.words for assumption in found.assumptions] == [words]


def test_inactive_with_a_duration_is_read_as_said_not_as_the_term() -> None:
    found = reading("inactive for 60 days")

    assert dump_rule(found.rule) == field("last_order_at", "more than days ago", 60)
    assert found.assumptions == ()


def test_a_team_edits_a_term_with_its_own_file(tmp_path: Path) -> None:
    team_file = tmp_path / "terms.json"
    vip = {"field": "total_spend", "op": ">=", "value": 200_000}
    team_file.write_text(
        json.dumps(
            {"terms": [{"name": "high value", "words": ["VIP", "VIPs"], "meaning": "₹2 lakh or more", "rule": vip}]}
        )
    )

    found = parse_text("VIPs in Pune", CATALOG, TODAY, load_terms(team_file))

    assert dump_rule(found.rule) == {"and": [vip, field("city", "=", "Pune")]}
    assert found.assumptions[0].meaning == "₹2 lakh or more"
    assert dump_rule(parse_text("lapsed customers", CATALOG, TODAY, load_terms(team_file)).rule) == field(
        "last_order_at", "more than days ago", 90
    )  # the built-in terms it does not replace stay


def test_a_terms_file_that_is_not_there_is_refused_when_the_settings_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XENO_AI_TERMS_FILE", "/nowhere/terms.json")

    with pytest.raises(ValidationError, match="XENO_AI_TERMS_FILE"):
        Settings()


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("loyal customers: ordered at least 5 times", field("order_count", ">=", 5)),
        ("Diwali push: customers in Pune", field("city", "=", "Pune")),
        ("Pune regulars: 4 or more orders", {"and": [field("city", "=", "Pune"), field("order_count", ">=", 4)]}),
        ("win-back — no order in 100 days", {"not": field("last_order_at", "within last days", 100)}),
    ],
)
def test_a_leading_label_names_the_segment_and_only_its_conditions_count(text: str, rule: dict[str, Any]) -> None:
    found = reading(text)

    assert dump_rule(found.rule) == rule
    assert found.assumptions == ()
    assert found.skipped == ()


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("haven't ordered for 2 months", {"not": field("last_order_at", "within last days", 60)}),
        ("no purchase in half a year", {"not": field("last_order_at", "within last days", 180)}),
        ("signed up this month", field("signed_up_at", ">=", "2026-03-01")),
        ("ordered this month", field("last_order_at", ">=", "2026-03-01")),
        ("joined since January", field("signed_up_at", ">=", "2026-01-01")),
        ("signed up since April", field("signed_up_at", ">=", "2025-04-01")),
        ("joined in February",
         {"and": [field("signed_up_at", ">=", "2026-02-01"), field("signed_up_at", "<", "2026-03-01")]}),
        ("ordered since Diwali", field("last_order_at", ">=", "2025-10-20")),
        ("opened the app in the last fortnight", {"event": "App Opened", "within_days": 14}),
        ("haven't bought since December", {"not": field("last_order_at", ">=", "2025-12-01")}),
        (
            "customers who signed up last month but haven't bought anything yet",
            {"and": [field("signed_up_at", "within last days", 30), field("order_count", "=", 0)]},
        ),
    ],
)  # fmt: skip
def test_time_words_counted_from_today(text: str, rule: dict[str, Any]) -> None:
    assert read(text) == rule


def test_ambiguous_time_words_say_how_they_were_read() -> None:
    assert "“last month” was read as the last 30 days." in reading("signed up last month").notes
    assert "“Diwali” was taken as 20 October 2025." in reading("ordered since Diwali").notes


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("more than 3 visits", field("order_count", ">", 3)),
        ("visited at least 4 times", field("order_count", ">=", 4)),
        ("spent over 1 lakh", field("total_spend", ">", 100_000)),
        ("spent more than 1L", field("total_spend", ">", 100_000)),
        ("total spend above 2M", field("total_spend", ">", 2_000_000)),
        ("bought more than 20k worth", field("total_spend", ">", 20_000)),
        ("spent 1 crore or more", field("total_spend", ">=", 10_000_000)),
    ],
)
def test_everyday_vocabulary_and_amounts(text: str, rule: dict[str, Any]) -> None:
    assert read(text) == rule


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("Mumbai wale customers jinhone 5000 se zyada kharida",
         {"and": [field("city", "=", "Mumbai"), field("total_spend", ">", 5000)]}),
        ("Delhi ke customers jinhone 3 baar se zyada order kiya",
         {"and": [field("city", "=", "Delhi"), field("order_count", ">", 3)]}),
        ("jinhone 2 mahine se kuch nahi kharida", {"not": field("last_order_at", "within last days", 60)}),
        ("jinhone pichle 30 din mein order kiya", field("last_order_at", "within last days", 30)),
        ("jinhone kabhi order nahi kiya", field("order_count", "=", 0)),
    ],
)  # fmt: skip
def test_hinglish(text: str, rule: dict[str, Any]) -> None:
    assert read(text) == rule


def test_typos_are_mended_said_in_notes_and_skipped_words_still_point_at_the_users_text() -> None:
    found = reading("custmers who spnt more then 20k and love our brnad")

    assert dump_rule(found.rule) == field("total_spend", ">", 20_000)
    assert found.notes[:3] == ("Read “custmers” as “customers”.", "Read “spnt” as “spent”.", "Read “then” as “than”.")
    assert [(item.text, item.start) for item in found.skipped] == [("love our brnad", 36)]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("ppl who orderd at least 3 times", field("order_count", ">=", 3)),  # a missing letter beats a wrong one
        ("customers who havn't purchased in 2 months", {"not": field("last_order_at", "within last days", 60)}),
        ("customers who spendt less than 1k", field("total_spend", "<", 1000)),  # "spend" or "spent": one word
        ("signed up in the lst 60 days", field("signed_up_at", "within last days", 60)),
    ],
)
def test_the_likeliest_typo_wins_and_shorthand_is_spelt_out(text: str, rule: dict[str, Any]) -> None:
    assert read(text) == rule


def test_a_known_word_is_never_mended_into_another() -> None:
    assert skipped("customers in Pune who love tea") == [("love tea", "not understood")]


def test_english_words_are_not_read_as_hinglish() -> None:
    assert read("customers from the US") == field("country", "=", "US")  # "the" is not Hindi's "were"
