"""The OpenAI-compatible provider against a scripted chat completions server on loopback: structured output,
validation, one repair, refusal, and falling back to the local provider when the model is slow or failing."""

from __future__ import annotations

from datetime import date
from typing import Any

from engine.ai.errors import CannotExpress, RuleRefused
from engine.ai.local import LocalProvider
from engine.ai.messages.brief import MessageBrief
from engine.ai.messages.suggest import suggest_messages
from engine.ai.rules import suggest_rule
from engine.features.catalog import base_catalog
from engine.segments import dump_rule
from tests.engine.ai.loopback import MODEL, Answer, model

CATALOG = base_catalog()
TODAY = date(2026, 3, 18)
SPENT_OVER_10K = {"field": "total_spend", "op": ">", "value": 10000}


def rule_answer(rule: Any, cannot: str | None = None, **said: Any) -> Answer:
    return Answer({"rule": rule, "cannot": cannot, "assumed": [], "skipped": [], **said})


def test_a_valid_structured_answer_becomes_the_rule_read_back_in_english() -> None:
    with model(rule_answer(SPENT_OVER_10K)) as (provider, chat):
        outcome = suggest_rule("customers who spent over ₹10K", CATALOG, provider, LocalProvider(), TODAY)

    assert outcome.rule is not None
    assert dump_rule(outcome.rule) == SPENT_OVER_10K
    assert outcome.english == "customers whose total spend is over 10,000"
    assert (outcome.provider, outcome.model, outcome.repaired, outcome.notes) == ("openai", MODEL, False, ())
    [request] = chat.requests
    assert request["model"] == MODEL
    assert request["messages"][-1] == {"role": "user", "content": "customers who spent over ₹10K"}


def test_the_model_is_held_to_the_wrapped_rule_schema_and_told_the_catalog() -> None:
    with model(rule_answer(SPENT_OVER_10K)) as (provider, chat):
        suggest_rule("spent over 10K", CATALOG, provider, None, TODAY)

    response_format = chat.requests[0]["response_format"]
    schema = response_format["json_schema"]["schema"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    assert schema["required"] == ["rule", "cannot", "assumed", "skipped"]
    assert schema["additionalProperties"] is False
    assert {"$ref": "#/$defs/And"} in schema["properties"]["rule"]["anyOf"]
    assert schema["$defs"]["Condition"]["properties"]["field"]["enum"] == [feature.name for feature in CATALOG]
    system = chat.requests[0]["messages"][0]["content"]
    assert "total_spend (number" in system
    assert "more than days ago" in system


def test_the_model_is_told_the_teams_terms_and_today_and_its_assumptions_and_skipped_words_come_back() -> None:
    vip = {"field": "total_spend", "op": ">=", "value": 50000}
    assumed = [{"words": "VIPs", "meaning": "total spend of ₹50,000 or more"}]
    skipped = [{"words": "saree", "why": "no feature says what was bought"}]
    with model(rule_answer(vip, assumed=assumed, skipped=skipped)) as (provider, chat):
        outcome = suggest_rule("VIPs who bought a saree", CATALOG, provider, None, TODAY)

    system = chat.requests[0]["messages"][0]["content"]
    assert "vip, vips" in system
    assert "total spend of ₹50,000 or more" in system
    assert "Today is 2026-03-18." in system
    assert [(item.words, item.meaning) for item in outcome.assumptions] == [("VIPs", "total spend of ₹50,000 or more")]
    assert [(item.text, item.start, item.reason) for item in outcome.skipped] == [
        ("saree", 18, "no feature says what was bought")
    ]
    assert outcome.questions[0] == "By “VIPs” I assumed total spend of ₹50,000 or more. Is that what you meant?"


def test_nulls_strict_output_puts_for_unset_properties_are_dropped() -> None:
    answer = {"event": "Email Opened", "where": None, "op": None, "count": None, "within_days": 30}
    with model(rule_answer(answer)) as (provider, _):
        outcome = suggest_rule("opened an email in the last 30 days", CATALOG, provider, None, TODAY)

    assert outcome.rule is not None
    assert dump_rule(outcome.rule) == {"event": "Email Opened", "within_days": 30}


def test_an_invalid_rule_goes_back_to_the_model_once_with_the_problems_and_the_repair_is_used() -> None:
    misspelt = {"field": "totl_spend", "op": ">", "value": 10000}
    with model(rule_answer(misspelt), rule_answer(SPENT_OVER_10K)) as (provider, chat):
        outcome = suggest_rule("spent over 10K", CATALOG, provider, LocalProvider(), TODAY)

    assert outcome.rule is not None
    assert dump_rule(outcome.rule) == SPENT_OVER_10K
    assert outcome.repaired
    assert outcome.provider == "openai"
    assert "corrected" in outcome.notes[0]
    first, second = chat.requests
    assert second["messages"][:2] == first["messages"]
    assert second["messages"][2]["role"] == "assistant"
    assert "totl_spend" in second["messages"][2]["content"]
    assert "unknown field (did you mean `total_spend`?)" in second["messages"][3]["content"]


def test_an_answer_that_is_not_json_is_repaired_the_same_way() -> None:
    with model(Answer(raw="total_spend > 10000"), rule_answer(SPENT_OVER_10K)) as (provider, chat):
        outcome = suggest_rule("spent over 10K", CATALOG, provider, None, TODAY)

    assert outcome.rule is not None
    assert outcome.repaired
    assert "not JSON" in chat.requests[1]["messages"][3]["content"]


def test_a_rule_still_invalid_after_the_repair_is_refused_never_returned() -> None:
    wrong_type = {"field": "city", "op": ">", "value": 3}
    with model(rule_answer(wrong_type), rule_answer(wrong_type)) as (provider, chat):
        outcome = suggest_rule("cities above three", CATALOG, provider, LocalProvider(), TODAY)

    assert outcome.rule is None
    assert len(chat.requests) == 2
    assert isinstance(outcome.refusal, RuleRefused)
    assert outcome.refusal.code == "invalid_rule"
    assert any("does not apply to a category field" in problem for problem in outcome.refusal.problems)


def test_the_model_may_say_a_request_cannot_be_expressed() -> None:
    with model(rule_answer(None, "there is no birthday feature")) as (provider, chat):
        outcome = suggest_rule("customers with birthdays this week", CATALOG, provider, LocalProvider(), TODAY)

    assert isinstance(outcome.refusal, CannotExpress)
    assert len(chat.requests) == 1
    assert "no birthday feature" in str(outcome.refusal)


def test_a_model_slower_than_the_timeout_gives_way_to_the_local_provider_with_a_note() -> None:
    with model(Answer({"rule": SPENT_OVER_10K, "cannot": None}, delay_s=3), timeout_s=0.3) as (provider, _):
        outcome = suggest_rule("customers who spent over ₹10K", CATALOG, provider, LocalProvider(), TODAY)

    assert outcome.provider == "local"
    assert outcome.model is None
    assert outcome.rule is not None
    assert dump_rule(outcome.rule) == SPENT_OVER_10K
    assert "could not answer: no answer within 0.3 s" in outcome.notes[0]


def test_a_server_error_or_no_server_at_all_gives_way_to_the_local_provider() -> None:
    with model(Answer(status=500)) as (provider, _):
        failed = suggest_rule("opted in to SMS", CATALOG, provider, LocalProvider(), TODAY)
    unreachable = suggest_rule("opted in to SMS", CATALOG, provider, LocalProvider(), TODAY)  # the server is gone now

    assert failed.provider == unreachable.provider == "local"
    assert "HTTP 500" in failed.notes[0]
    assert "could not connect" in unreachable.notes[0]


def brief(channel: str = "sms") -> MessageBrief:
    return MessageBrief("bring back inactive users with 20% off", channel, CATALOG, "Kurta & Co")


def variants(*bodies: str) -> Answer:
    tones = ("friendly", "urgent", "premium")
    return Answer({"variants": [{"tone": t, "subject": None, "body": b} for t, b in zip(tones, bodies, strict=False)]})


def test_message_variants_from_the_model_are_checked_and_kept_when_valid() -> None:
    answer = variants(
        "Hi {{ first_name | default('friend') }}, 20% off is yours.", "Last day: 20% off!", "A gift: 20% off."
    )
    with model(answer) as (provider, chat):
        suggestions = suggest_messages(brief(), provider, LocalProvider())

    assert suggestions.provider == "openai"
    assert len(suggestions.variants) == 3
    assert suggestions.variants[0].variables == ("first_name",)
    assert chat.requests[0]["response_format"]["json_schema"]["schema"]["properties"]["variants"]["minItems"] == 3


def test_variants_naming_unknown_features_are_repaired_once_then_replaced_by_local_ones() -> None:
    bad = variants("Hi {{ nickname }}!", "Hurry {{ loyalty_points }}!", "Dear {{ title }}")
    with model(bad, bad) as (provider, chat):
        suggestions = suggest_messages(brief(), provider, LocalProvider())

    assert len(chat.requests) == 2
    assert "unknown variable 'nickname'" in chat.requests[1]["messages"][3]["content"]
    assert suggestions.provider == "local"
    assert len(suggestions.variants) == 3
    assert "gave no usable messages" in suggestions.notes[0]


DIWALI = MessageBrief("announce Diwali sale, up to 40% off on sarees", "sms", CATALOG, "Kurta & Co")
OVER_PROMISE = "Celebrate with 40% off on everything you love"  # the variant: "up to" and "sarees" dropped


def test_a_model_variant_that_drops_the_offers_facts_is_sent_back_and_its_correction_used() -> None:
    kept = ("Up to 40% off on sarees this Diwali!", "Diwali: up to 40% off on sarees, hurry!")
    first = variants(kept[0], kept[1], OVER_PROMISE)
    corrected = variants(*kept, "With our compliments: up to 40% off on sarees.")
    with model(first, corrected) as (provider, chat):
        suggestions = suggest_messages(DIWALI, provider, LocalProvider())

    assert (suggestions.provider, len(suggestions.variants)) == ("openai", 3)
    assert all("up to 40% off on sarees" in variant.body.lower() for variant in suggestions.variants)
    assert suggestions.offer == ("up to 40% off", "sarees")
    assert suggestions.notes == ("Some variants failed the checks; the provider was shown why and corrected them.",)
    asked = chat.requests[0]["messages"][1]["content"]
    assert "Every variant must state, unchanged: “up to 40% off”, “sarees”" in asked
    repair = chat.requests[1]["messages"][3]["content"]
    assert "premium: the objective's “up to 40% off” is missing or changed" in repair
    assert "the objective's “sarees” is missing or changed" in repair


def test_a_variant_still_dropping_a_fact_after_the_repair_is_left_out_and_the_answer_says_so() -> None:
    answer = variants("Up to 40% off on sarees this Diwali!", "Diwali: up to 40% off on sarees!", OVER_PROMISE)
    with model(answer, answer) as (provider, chat):
        suggestions = suggest_messages(DIWALI, provider, LocalProvider())

    assert len(chat.requests) == 2
    assert [variant.tone for variant in suggestions.variants] == ["friendly", "urgent"]
    assert suggestions.notes[-1].startswith("The premium variant was left out: the objective's “up to 40% off”")


def test_a_model_that_over_promises_in_every_variant_gives_way_to_the_local_messages() -> None:
    answer = variants(OVER_PROMISE, "Diwali! 40% off everything!", "Flat 40% off on sarees.")
    with model(answer, answer) as (provider, _):
        suggestions = suggest_messages(DIWALI, provider, LocalProvider())

    assert suggestions.provider == "local"
    assert "gave no usable messages" in suggestions.notes[0]
    assert all("up to 40% off on sarees" in variant.body for variant in suggestions.variants)
