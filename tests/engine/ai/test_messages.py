"""Local message suggestions: valid templates of our template language, in several tones, shaped by the
objective and the audience; SMS that fit one message for the longest recipient."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from engine.ai.local import LocalProvider
from engine.ai.messages.audience import AudienceProfile, profile_audience
from engine.ai.messages.brief import DraftMessage, MessageBrief
from engine.ai.messages.check import MessageProblem, check_message
from engine.ai.messages.intents import read_objective
from engine.ai.messages.suggest import NoUsableMessages, suggest_messages
from engine.campaigns.templates import check_template
from engine.features.catalog import base_catalog

CATALOG = base_catalog()
OBJECTIVES = {
    "win_back": "bring back inactive users",
    "welcome": "welcome new signups",
    "cart_recovery": "recover abandoned carts",
    "festive_sale": "Diwali sale with 30% off till Sunday",
    "upsell": "reward our VIP customers",
    "launch": "launch the monsoon collection",
    "promotion": "tell people about our weekend offers",
}


@pytest.mark.parametrize("channel", ["sms", "email"])
@pytest.mark.parametrize(("intent", "objective"), OBJECTIVES.items())
def test_every_intent_gives_three_valid_templates_in_three_tones(intent: str, objective: str, channel: str) -> None:
    suggestions = suggest_messages(MessageBrief(objective, channel, CATALOG, "Kurta & Co"), LocalProvider(), None)  # type: ignore[arg-type]

    assert suggestions.intent == intent
    assert [variant.tone for variant in suggestions.variants] == ["friendly", "urgent", "premium"]
    assert len({variant.body for variant in suggestions.variants}) == 3
    for variant in suggestions.variants:
        assert set(check_template(variant.body, CATALOG).variables) <= {"first_name", "days_since_last_order"}
        if channel == "sms":
            assert variant.subject is None
            assert variant.longest_length is not None
            assert variant.longest_length <= 160
        else:
            assert variant.subject
            assert check_template(variant.subject, CATALOG)


def test_the_objective_gives_the_offer_code_and_deadline() -> None:
    objective = "Bring back inactive users with 20% off, code COMEBACK, till Sunday"
    intent = read_objective(objective)
    suggestions = suggest_messages(MessageBrief(objective, "sms", CATALOG, "Kurta & Co"), LocalProvider(), None)

    assert (intent.kind, intent.offer.percent, intent.offer.code, intent.deadline) == (
        "win_back", 20, "COMEBACK", "till Sunday"
    )  # fmt: skip
    assert all("20% off" in variant.body and "COMEBACK" in variant.body for variant in suggestions.variants)
    assert "till Sunday" in suggestions.variants[1].body


def test_without_an_offer_the_audience_average_order_value_sizes_one_and_says_so() -> None:
    audience = AudienceProfile(size=120, average_order_value=2_480.0, top_country="IN")
    brief = MessageBrief("win back lapsed customers", "email", CATALOG, "Kurta & Co", audience)

    suggestions = suggest_messages(brief, LocalProvider(), None)

    assert all("₹250 off" in variant.body for variant in suggestions.variants)
    assert "about 10% of this audience's average order value (₹2,480)" in suggestions.notes[0]


def test_an_sms_keeps_to_the_gsm_alphabet_so_it_holds_160_characters() -> None:
    audience = AudienceProfile(size=10, average_order_value=2_000.0, top_country="IN")
    suggestions = suggest_messages(
        MessageBrief("welcome new signups", "sms", CATALOG, "Kurta", audience), LocalProvider(), None
    )

    assert all("Rs.200 off" in variant.body and "₹" not in variant.body for variant in suggestions.variants)
    assert {variant.sms_limit for variant in suggestions.variants} == {160}


def test_a_long_first_name_in_the_audience_makes_the_sms_choose_its_shorter_wording() -> None:
    short_names = AudienceProfile(size=1, longest_values=(("first_name", "Ada"),))
    long_names = AudienceProfile(size=1, longest_values=(("first_name", "A" * 60),))
    objective = "bring back inactive users with 20% off, code COMEBACK2026, till Sunday"

    def friendly(audience: AudienceProfile) -> str:
        brief = MessageBrief(objective, "sms", CATALOG, "The Handloom Story", audience)
        return suggest_messages(brief, LocalProvider(), None).variants[0].body

    assert len(friendly(long_names)) < len(friendly(short_names))


def test_template_syntax_in_the_brand_name_never_becomes_template_code() -> None:
    brief = MessageBrief("welcome new signups", "email", CATALOG, "{{ secret }} {% raw %}Shop")
    suggestions = suggest_messages(brief, LocalProvider(), None)

    assert all("secret" in variant.body and "{{ secret" not in variant.body for variant in suggestions.variants)


def test_a_brand_too_long_for_any_sms_is_a_clear_refusal() -> None:
    with pytest.raises(NoUsableMessages, match="one SMS holds 160"):
        suggest_messages(MessageBrief("welcome new signups", "sms", CATALOG, "B" * 200), LocalProvider(), None)


@pytest.mark.parametrize(
    ("draft", "channel", "problem"),
    [
        (DraftMessage("friendly", "Hi {{ nickname }}"), "sms", "unknown variable 'nickname'"),
        (DraftMessage("friendly", "Hi {{ first_name "), "sms", "message line 1"),
        (DraftMessage("friendly", "Hi there"), "email", "an e-mail needs a subject"),
        (DraftMessage("friendly", "x" * 161), "sms", "the SMS is 161 characters"),
        (DraftMessage("friendly", "Diwali offer 🎉 " + "x" * 60), "sms", "one SMS holds 70"),
    ],
)
def test_unusable_variants_are_refused_with_the_reason(draft: DraftMessage, channel: str, problem: str) -> None:
    with pytest.raises(MessageProblem, match=problem):
        check_message(draft, channel, CATALOG)  # type: ignore[arg-type]


def test_the_audience_profile_is_computed_from_the_members_feature_rows() -> None:
    members = pl.DataFrame(
        {
            "customer_id": [1, 2, 3, 4],
            "first_name": ["Ada", "Bartholomew", None, "Zoe"],
            "city": ["Mumbai", "Mumbai", "Pune", None],
            "country": ["IN", "IN", "IN", "GB"],
            "total_spend": [1000.0, 3000.0, 2000.0, 0.0],
            "average_order_value": [500.0, 1500.0, 1000.0, None],
            "days_since_last_order": [10, 30, 200, None],
            "sms_consent": [True, False, True, None],
            "last_order_at": [datetime(2025, 1, 1, tzinfo=UTC)] * 4,
        }
    )

    profile = profile_audience(members, "sms")

    assert (profile.size, profile.average_spend, profile.average_order_value) == (4, 1500.0, 1000.0)
    assert (profile.top_city, profile.top_city_share, profile.top_country) == ("Mumbai", 0.5, "IN")
    assert (profile.median_days_since_last_order, profile.reachable) == (30, 2)
    assert profile.longest("first_name") == "Bartholomew"
    assert profile.summary("₹") == (
        "4 customers; average spend ₹1,500; 50% in Mumbai; median 30 days since the last order; "
        "2 reachable on this channel"
    )
