"""Campaign performance insights: facts computed from the communication log and the customer features, and
sentences whose every number is one of those facts, whether the local composer or a language model wrote them."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine

from engine.ai import calls, queue
from engine.ai.insights.campaign import campaign_insights
from engine.ai.insights.facts import WITHIN_CHANCE, Fact, percent
from engine.ai.insights.placeholders import by_id, missing_intervals, sentence_problems
from engine.ai.jobs import HANDLERS
from engine.ai.local import LocalProvider
from engine.campaigns.progress import get_campaign
from engine.settings import get_settings
from tests.engine.ai.history import (
    REJECTED,
    UNREACHABLE,
    Message,
    assert_every_number_is_a_cited_fact,
    campaign_with_history,
    draft_campaign,
    launched_campaign,
    log_messages,
    numbers,
    publish_customers,
)
from tests.engine.ai.loopback import MODEL, Answer, model


@pytest.fixture
def published(database: Engine, tmp_path: Path) -> str:
    """The customers published as a feature snapshot; its version."""
    return publish_customers(database, tmp_path)


def printed_equals_computed(fact: Fact) -> None:
    """What a fact prints is its computed value, exactly."""
    for key, value in fact.values.items():
        if isinstance(value, int):
            assert numbers(fact.printed[key]) == [str(value)]


def test_facts_are_the_logs_counts_by_band_with_rates_as_printed(database: Engine, published: str) -> None:
    campaign_id, _ = campaign_with_history(database, published)

    found = campaign_insights(database, get_campaign(database, campaign_id), LocalProvider(), None)

    facts = by_id(found.facts)
    assert facts["overall"].values == {
        "messages": 430, "delivered": 335, "failed": 65, "outcomes": 400, "awaiting": 10, "skipped": 20, "rate": 84,
        "low": 79, "high": 88,
    }  # fmt: skip
    assert facts["spend_high"].label == "customers who spent over ₹10,000"
    assert facts["spend_high"].values == {
        "outcomes": 100, "delivered": 95, "failed": 5, "rate": 95, "low": 88, "high": 98, "versus": "above",
        "points": 11,
    }  # fmt: skip
    assert facts["spend_high"].printed["interval"] == "88–98% with 95% confidence"
    assert facts["spend_mid"].values["rate"] == 90
    assert (facts["spend_low"].values["rate"], facts["spend_low"].values["versus"]) == (60, "below")
    assert {fact.id for fact in found.facts if fact.kind == "city"} == {"city_1", "city_2"}
    assert facts["others"].values["campaigns"] == 2  # not the one still sending, nor someone else's
    assert (facts["others"].values["outcomes"], facts["others"].values["rate"]) == (150, 93)
    assert (facts["others_sms"].values["campaigns"], facts["others_sms"].values["rate"]) == (1, 90)
    # 90 of 100 against this campaign's 335 of 400 is within chance; recency and city were not what mattered
    assert {fact.id for fact in found.facts if fact.values.get("versus") == WITHIN_CHANCE} == {
        "others_sms", "recency_recent", "recency_lapsing", "recency_lapsed", "city_1", "city_2",
    }  # fmt: skip
    assert not any("points" in fact.values for fact in found.facts if fact.values.get("versus") == WITHIN_CHANCE)
    assert (facts["failure_1"].label, facts["failure_1"].values) == (REJECTED, {"count": 40, "share": 62})
    assert (facts["failure_2"].label, facts["failure_2"].values) == (UNREACHABLE, {"count": 25, "share": 38})
    assert facts["skip_1"].values == {"count": 20, "share": 100}
    assert found.snapshot_version == int(published)
    assert found.notes == ()
    for fact in found.facts:
        printed_equals_computed(fact)


def test_the_local_insights_say_what_stands_out_with_the_computed_numbers(database: Engine, published: str) -> None:
    campaign_id, _ = campaign_with_history(database, published)

    found = campaign_insights(database, get_campaign(database, campaign_id), LocalProvider(), None)

    assert [insight.text for insight in found.insights] == [
        "335 of the 400 messages with a known outcome were delivered: a delivery rate of 84% (79–88% with 95% "
        "confidence); 10 more are still awaiting a receipt.",
        "Customers who spent over ₹10,000 had a 95% delivery rate (88–98% with 95% confidence), 11 points above "
        "the campaign's 84%.",
        "Customers who spent under ₹1,000 had the lowest delivery rate, 60% (50–70% with 95% confidence): 24 points "
        "below the campaign's 84%.",
        "Your other finished SMS campaigns delivered 90% (82–95% with 95% confidence) over 1 campaign, no different "
        "beyond chance from this campaign's 84%.",
        f"The most common failure reason was “{REJECTED}”: 40 messages, 62% of the failures.",
        "20 customers could not be messaged: no consent to SMS.",
    ]
    assert found.insights[1].fact_ids == ("spend_high", "overall")
    assert (found.provider, found.model) == ("local", None)
    assert_every_number_is_a_cited_fact(found.output())


def test_without_a_snapshot_there_are_no_customer_groups_and_a_note_says_why(database: Engine) -> None:
    campaign_id, _ = campaign_with_history(database)

    found = campaign_insights(database, get_campaign(database, campaign_id), LocalProvider(), None)

    assert {fact.kind for fact in found.facts} == {"overall", "comparison", "failure_reason", "skip_reason"}
    assert found.notes == ("No feature snapshot has been published, so there are no spend, recency or city groups.",)
    assert_every_number_is_a_cited_fact(found.output())


def test_a_campaign_with_no_outcome_yet_says_so_without_a_rate(database: Engine) -> None:
    campaign_id = launched_campaign(database, status="sending")
    log_messages(database, campaign_id, [Message(n, "queued") for n in range(1, 41)])

    found = campaign_insights(database, get_campaign(database, campaign_id), LocalProvider(), None)

    assert [insight.text for insight in found.insights] == [
        "None of the 40 messages has a delivery outcome yet. 40 are still on their way."
    ]


def test_a_campaign_failing_at_random_states_no_band_difference_end_to_end(database: Engine, published: str) -> None:
    failing = set(random.Random(5).sample(range(1, 401), 40))  # 10% at random, as the vendor simulator fails
    campaign_id = launched_campaign(database, snapshot_version=published)
    log_messages(
        database,
        campaign_id,
        [Message(n, "failed", UNREACHABLE) if n in failing else Message(n, "delivered") for n in range(1, 401)],
    )

    found = campaign_insights(database, get_campaign(database, campaign_id), LocalProvider(), None)

    bands = [fact for fact in found.facts if fact.kind in ("spend", "recency", "city")]
    assert len(bands) == 8  # spend low, mid and high; recency recent, lapsing and lapsed; Mumbai and Delhi
    assert all(fact.values["versus"] == WITHIN_CHANCE for fact in bands)
    assert found.insights[1].text == (
        "No spend, recency or city group differs beyond chance from the campaign's 90% delivery rate."
    )
    assert_every_number_is_a_cited_fact(found.output())


def test_the_models_sentences_are_filled_in_with_the_facts_values(database: Engine, published: str) -> None:
    campaign_id, _ = campaign_with_history(database, published)
    written = [
        "{spend_high.label} had a {spend_high.rate} delivery rate ({spend_high.interval}), {spend_high.points} "
        "{spend_high.versus} the campaign's {overall.rate} ({overall.interval}).",
        "The main failure was “{failure_1.label}”, behind {failure_1.share} of the failures.",
    ]
    with model(Answer({"insights": [{"text": text} for text in written]})) as (provider, chat):
        found = campaign_insights(database, get_campaign(database, campaign_id), provider, LocalProvider())

    assert [insight.text for insight in found.insights] == [
        "Customers who spent over ₹10,000 had a 95% delivery rate (88–98% with 95% confidence), 11 points above the "
        "campaign's 84% (79–88% with 95% confidence).",
        f"The main failure was “{REJECTED}”, behind 62% of the failures.",
    ]
    assert (found.provider, found.model, found.notes) == ("openai", MODEL, ())
    assert_every_number_is_a_cited_fact(found.output())
    [request] = chat.requests
    assert request["response_format"]["json_schema"]["name"] == "campaign_insights"
    assert '"rate": "95%"' in request["messages"][1]["content"]  # the model is given the printed facts


def test_a_model_that_writes_a_number_of_its_own_is_shown_the_problem_and_its_repair_is_used(
    database: Engine, published: str
) -> None:
    campaign_id, _ = campaign_with_history(database, published)
    invented = Answer({"insights": [{"text": "Big spenders had a 97% delivery rate, well above {overall.rate}."}]})
    repaired = Answer({"insights": [{"text": "{spend_high.label} had {spend_high.rate} ({spend_high.interval})."}]})
    with model(invented, repaired) as (provider, chat):
        found = campaign_insights(database, get_campaign(database, campaign_id), provider, LocalProvider())

    assert [insight.text for insight in found.insights] == [
        "Customers who spent over ₹10,000 had 95% (88–98% with 95% confidence)."
    ]
    assert found.notes == ("The model's first insights failed the checks; it was shown why and corrected them.",)
    assert (found.repaired, found.output()["repaired"]) == (True, True)  # the job's result and its call record say so
    repair_request = chat.requests[1]["messages"][-1]["content"]
    assert "has a number of its own (“97”)" in repair_request
    assert_every_number_is_a_cited_fact(found.output())


def test_a_model_that_invents_numbers_twice_is_replaced_by_the_local_insights_with_a_note(
    database: Engine, published: str
) -> None:
    campaign_id, _ = campaign_with_history(database, published)
    invented = Answer({"insights": [{"text": "Delivery rose by twenty percent for {city_1.label}."}]})
    with model(invented, invented) as (provider, chat):
        found = campaign_insights(database, get_campaign(database, campaign_id), provider, LocalProvider())

    assert len(chat.requests) == 2
    assert found.provider == "local"
    assert found.insights[0].text.startswith("335 of the 400 messages")
    assert found.notes[0].startswith(f"The language model ({MODEL}) gave no usable insights")
    assert "“twenty”" in found.notes[0]
    assert_every_number_is_a_cited_fact(found.output())


def test_a_failing_model_gives_way_to_the_local_insights(database: Engine, published: str) -> None:
    campaign_id, _ = campaign_with_history(database, published)
    with model(Answer(status=500)) as (provider, _):
        found = campaign_insights(database, get_campaign(database, campaign_id), provider, LocalProvider())

    assert found.provider == "local"
    assert "HTTP 500" in found.notes[0]


@pytest.mark.parametrize(
    ("sentence", "problem"),
    [
        ("Delivery was 95% overall.", "has a number of its own (“95”)"),
        ("About half of {overall.label} failed.", "has a number of its own (“half”)"),
        ("{spend_top.rate} for the top spenders.", "there is no fact “spend_top”"),
        ("{overall.median} messages.", "fact “overall” has only: label, messages"),
        ("Delivery went well.", "cites no fact"),
        ("{overall.rate} of {messages} arrived.", "a brace that is not a placeholder"),
    ],
)
def test_sentences_with_numbers_or_placeholders_of_their_own_are_refused(sentence: str, problem: str) -> None:
    overall = Fact("overall", "overall", "this campaign", {"messages": 10, "rate": 90})

    problems = sentence_problems(sentence, {"overall": overall})

    assert any(problem in found for found in problems), problems


SPEND_HIGH = Fact("spend_high", "spend", "big spenders", {"rate": 95, "points": 5, "versus": "above"})
SPEND_LOW = Fact("spend_low", "spend", "small spenders", {"rate": 60, "points": 30, "versus": "below"})
OVERALL = Fact("overall", "overall", "this campaign", {"messages": 200, "rate": 90})


@pytest.mark.parametrize(
    "sentence",
    [
        "{spend_high.label} had a {spend_low.rate} delivery rate.",
        "Big spenders had a {spend_high.rate} delivery rate.",
        "{spend_high.label} beat the campaign's {overall.rate} by {spend_low.points}.",
    ],
)
def test_a_number_said_of_a_group_that_is_not_its_own_is_refused(sentence: str) -> None:
    problems = sentence_problems(sentence, by_id([OVERALL, SPEND_HIGH, SPEND_LOW]))

    assert len(problems) == 1, problems
    assert "without naming its group" in problems[0]


CITY_LEVEL = Fact("city_1", "city", "customers in Hyderabad", {"rate": 85, "versus": WITHIN_CHANCE})


@pytest.mark.parametrize(
    "sentence",
    [
        "{city_1.label} had the lowest delivery rate, {city_1.rate}.",
        "{city_1.label} delivered {city_1.rate}, below the campaign's {overall.rate}.",
        "{city_1.label} underperformed, at {city_1.rate}.",
    ],
)
def test_a_group_within_chance_may_not_be_compared(sentence: str) -> None:
    problems = sentence_problems(sentence, by_id([OVERALL, CITY_LEVEL]))

    assert len(problems) == 1, problems
    assert "its difference from the campaign is within chance" in problems[0]


def test_a_rate_given_without_its_interval_anywhere_is_refused() -> None:
    overall = Fact("overall", "overall", "this campaign", {"rate": 84, "low": 79, "high": 88})
    sentences = ["The campaign delivered {overall.rate}.", "It went well: {overall.label}."]

    assert missing_intervals(sentences, by_id([overall])) == [
        "the insights give {overall.rate} but not how sure it is: give {overall.interval} with it once"
    ]
    assert missing_intervals([*sentences, "That is {overall.interval}."], by_id([overall])) == []


def test_a_group_within_chance_may_be_said_to_be_level() -> None:
    sentence = "{city_1.label} delivered {city_1.rate}, {city_1.versus} the campaign's {overall.rate}."

    assert sentence_problems(sentence, by_id([OVERALL, CITY_LEVEL])) == []


def test_a_groups_numbers_beside_its_label_and_the_campaigns_own_numbers_are_accepted() -> None:
    sentence = (
        "{spend_low.label} had {spend_low.rate}, {spend_low.points} {spend_low.versus} the campaign's {overall.rate}."
    )

    assert sentence_problems(sentence, by_id([OVERALL, SPEND_HIGH, SPEND_LOW])) == []


@pytest.mark.parametrize(
    ("sentence", "doubled"),
    [
        ("The campaign delivered {overall.rate}%.", "“%” after {overall.rate}"),
        ("The campaign delivered {overall.rate} %.", "“%” after {overall.rate}"),
        ("The campaign delivered {overall.rate} percent.", "“percent” after {overall.rate}"),
        ("{spend_high.label} were {spend_high.points} points above the rest.", "“points” after {spend_high.points}"),
        (
            "{spend_high.label} were {spend_high.points} percentage points above the rest.",
            "“percentage points” after {spend_high.points}",
        ),
    ],
)
def test_a_unit_after_a_placeholder_that_prints_its_own_is_refused(sentence: str, doubled: str) -> None:
    problems = sentence_problems(sentence, by_id([OVERALL, SPEND_HIGH]))

    assert problems == [
        f"“{sentence}” writes {doubled}, but placeholders print with their unit (a rate as “90%”, a gap as "
        "“11 points”): leave the unit out"
    ]


def test_a_percent_sign_of_its_own_is_refused() -> None:
    problems = sentence_problems("A % of {overall.label} arrived.", by_id([OVERALL]))

    assert any("has a number of its own (“%”)" in problem for problem in problems), problems


@pytest.mark.parametrize(("part", "whole", "printed"), [(189, 200, 95), (335, 400, 84), (1, 3, 33), (2, 3, 67)])
def test_rates_round_halves_up(part: int, whole: int, printed: int) -> None:
    assert percent(part, whole) == printed


def test_an_insights_job_is_worked_off_the_queue_and_its_call_logged(
    database: Engine, redis_client: redis.Redis, published: str
) -> None:
    settings = get_settings()
    campaign_id, creator = campaign_with_history(database, published)

    job = queue.enqueue(redis_client, settings, "insights", {"campaign_id": campaign_id}, creator)
    queue.work_once(database, redis_client, settings, HANDLERS)
    done = queue.get_job(redis_client, settings, job.id)

    assert done is not None
    assert done.status == "done"
    result: dict[str, Any] = done.result or {}
    assert result["campaign_id"] == campaign_id
    assert result["insights"][1] == {
        "text": "Customers who spent over ₹10,000 had a 95% delivery rate (88–98% with 95% confidence), 11 points "
        "above the campaign's 84%.",
        "fact_ids": ["spend_high", "overall"],
    }
    assert {"id": "overall", "kind": "overall", "label": "this campaign"}.items() <= result["facts"][0].items()
    assert result["repaired"] is False
    call = calls.get_call(database, result["call_id"])
    assert call is not None
    assert (call.kind, call.provider, call.user_id, call.input) == (
        "insights",
        "local",
        creator,
        {"campaign_id": campaign_id},
    )
    assert call.output is not None
    assert call.output["insights"] == result["insights"]


def test_an_insights_job_for_a_campaign_that_is_gone_fails_with_the_reason(
    database: Engine, redis_client: redis.Redis
) -> None:
    settings = get_settings()
    missing = draft_campaign(database) + 1
    job = queue.enqueue(redis_client, settings, "insights", {"campaign_id": missing}, None)

    queue.work_once(database, redis_client, settings, HANDLERS)
    done = queue.get_job(redis_client, settings, job.id)

    assert done is not None
    assert (done.status, done.error) == ("failed", f"there is no campaign {missing}")
