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
from engine.ai.messages.offer import missing_facts, offer_facts
from engine.ai.messages.suggest import NoUsableMessages, suggest_messages
from engine.campaigns.templates import check_template
from engine.features.catalog import base_catalog

CATALOG = base_catalog()
OBJECTIVES = {
    "win_back": "bring back inactive users",
    "welcome": "welcome new signups",
    "cart_recovery": "recover abandoned carts",
    "festive_sale": "Diwali sale with 30% off till Sunday",
    "upsell": "cross-sell matching dupattas to kurta buyers",
    "thank_you": "thank our loyal customers",
    "launch": "launch the monsoon collection",
    "promotion": "tell people about our weekend offers",
}


@pytest.mark.parametrize("channel", ["sms", "email"])
@pytest.mark.parametrize(("intent", "objective"), OBJECTIVES.items())
def test_every_intent_gives_three_valid_templates_in_three_tones(intent: str, objective: str, channel: str) -> None:
    suggestions = suggest_messages(MessageBrief(objective, channel, CATALOG, "Kurta & Co"), LocalProvider(), None)

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
    suggestions = suggest_messages(MessageBrief(objective, "sms", CATALOG, "Kurta & Co"), LocalProvider(), None)

    assert read_objective(objective).kind == "win_back"
    assert [fact.said for fact in offer_facts(objective)] == ["20% off", "COMEBACK", "till Sunday"]
    for variant in suggestions.variants:
        assert {"20% off", "COMEBACK", "till Sunday"} <= {fact.said for fact in offer_facts(variant.body)}


@pytest.mark.parametrize("channel", ["sms", "email"])
def test_every_diwali_variant_keeps_up_to_40_percent_and_sarees(channel: str) -> None:
    objective = "announce Diwali sale, up to 40% off on sarees"
    suggestions = suggest_messages(MessageBrief(objective, channel, CATALOG, "Kurta & Co"), LocalProvider(), None)

    assert len(suggestions.variants) == 3
    for variant in suggestions.variants:
        assert "up to 40% off on sarees" in variant.body
        assert "everything" not in variant.body


KEPT_OBJECTIVES = [
    "announce Diwali sale, up to 40% off on select kurtas, code DIWALI40, ends 31 Oct",
    "black friday deals from $49 till midnight",
    "free delivery on orders above Rs 999 this weekend",
    "launch the monsoon collection with ₹500 off for the next 48 hours",
    "Thank our best customers with 15% off",
    "promote our buy 1 get 1 offer on t-shirts, starts Friday",
    "welcome new signups with an extra 10% off their first order, use HELLO10",
    "recover abandoned carts with free shipping till tomorrow",
]


@pytest.mark.parametrize("channel", ["sms", "email"])
@pytest.mark.parametrize("objective", KEPT_OBJECTIVES)
def test_every_local_variant_states_every_fact_of_the_objective(objective: str, channel: str) -> None:
    facts = offer_facts(objective)
    suggestions = suggest_messages(MessageBrief(objective, channel, CATALOG, "Kurta"), LocalProvider(), None)

    assert facts
    assert len(suggestions.variants) == 3
    for variant in suggestions.variants:
        assert missing_facts(variant.body, facts) == [], variant.body


@pytest.mark.parametrize(
    ("objective", "said"),
    [
        ("announce Diwali sale, up to 40% off on sarees", ["up to 40% off", "sarees"]),
        ("clearance: shoes starting at Rs 799", ["starting at Rs 799"]),
        ("48 hour deal on headphones, flat Rs 500 off", ["in the next 48 hours", "headphones", "Rs 500 off"]),
        ("new year sale till 2 Jan, code NY2027", ["till 2 Jan", "NY2027"]),
        ("customers who spent over ₹5,000 in 90 days: 10% off", ["10% off"]),
        ("win back customers inactive since 1 Oct, 20% off till Sunday", ["20% off", "till Sunday"]),
        ("bring back customers who haven't ordered in 2 months", []),
        ("a code for VIPs on 5+ orders", []),
    ],
)
def test_the_facts_of_an_offer_are_read_and_the_audiences_words_are_not(objective: str, said: list[str]) -> None:
    assert [fact.said for fact in offer_facts(objective)] == said


@pytest.mark.parametrize(
    ("objective", "variant", "kept"),
    [
        ("up to 40% off on sarees", "Celebrate with 40% off on sarees", False),
        ("40% off on sarees", "Celebrate with up to 40% off on sarees", False),
        ("up to 40% off on sarees", "Celebrate with upto 40% off on Sarees", True),
        ("₹1K off, till Sunday", "Rs.1,000 off, till sunday!", True),
        ("$20 off", "₹20 off", False),
        ("from ₹499", "prices starting at Rs 499", True),
        ("from ₹499", "prices under Rs 499", False),
        ("code SAVE15, ends 31 Oct", "code SAVE15 until October 31st", True),
        ("code SAVE15, ends 31 Oct", "code save15, ends 30 Oct", False),
        ("40% off on select kurtas", "40% off on kurtas", False),
    ],
)
def test_a_variant_keeps_a_fact_only_when_it_says_the_same(objective: str, variant: str, kept: bool) -> None:
    assert (missing_facts(variant, offer_facts(objective)) == []) is kept


def test_a_variant_that_drops_a_fact_is_refused_naming_it() -> None:
    facts = offer_facts("announce Diwali sale, up to 40% off on sarees")

    with pytest.raises(MessageProblem, match="the objective's “up to 40% off” is missing or changed") as refused:
        check_message(
            DraftMessage("friendly", "Celebrate with 40% off on everything you love"), "sms", CATALOG, None, facts
        )
    assert any("“sarees”" in problem for problem in refused.value.problems)


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
        check_message(draft, channel, CATALOG)


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
