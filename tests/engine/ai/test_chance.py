"""Insights that respect chance: on simulated campaigns, a planted difference in one band is found, and when
every recipient fails at the same rate (as the vendor simulator fails them) almost no campaign states one.

The many null runs go straight through the statistics (`campaign_facts` over synthetic logs, no database);
the end-to-end case, through Postgres and the AI queue's code, is in test_insights.py."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from engine.ai.insights.chance import Comparison, beyond_chance, holm, p_value, wilson_interval
from engine.ai.insights.compose import compose_insights
from engine.ai.insights.facts import OTHERS_SCHEMA, WITHIN_CHANCE, campaign_facts
from engine.ai.insights.placeholders import by_id, fill

CITIES = ("Mumbai", "Delhi", "Bengaluru", "Hyderabad", "Pune")
NO_OTHERS = pl.DataFrame(schema=OTHERS_SCHEMA)


def simulated_campaign(
    rng: np.random.Generator, size: int, failure_rate: float, city_failure: dict[str, float] | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A campaign's log and its recipients' features: random spend, recency and city; each message fails with
    `failure_rate`, or its city's rate in `city_failure`."""
    cities = rng.choice(CITIES, size)
    failing = np.array([(city_failure or {}).get(str(city), failure_rate) for city in cities])
    failed = rng.random(size) < failing
    ids = np.arange(1, size + 1)
    log = pl.DataFrame(
        {"customer_id": ids, "status": np.where(failed, "failed", "delivered"), "reason": None},
        schema={"customer_id": pl.Int64(), "status": pl.String(), "reason": pl.String()},
    )
    features = pl.DataFrame(
        {
            "customer_id": ids,
            "total_spend": rng.choice([500.0, 5_000.0, 15_000.0], size),
            "days_since_last_order": rng.choice([10, 60, 200], size),
            "city": cities,
        }
    )
    return log, features


def stated_differences(log: pl.DataFrame, features: pl.DataFrame) -> list[str]:
    """The ids of the groups whose difference the campaign's facts let an insight state."""
    facts = campaign_facts(log, features, NO_OTHERS, channel="sms", currency="₹")
    return [fact.id for fact in facts if "points" in fact.values]


def test_a_band_that_really_fails_more_is_found_and_said_with_its_interval() -> None:
    rng = np.random.default_rng(7)
    log, features = simulated_campaign(rng, 2_000, 0.10, {"Hyderabad": 0.25})

    facts = campaign_facts(log, features, NO_OTHERS, channel="sms", currency="₹")
    sentences = [fill(sentence, by_id(facts)).text for sentence in compose_insights(facts)]

    hyderabad = next(fact for fact in facts if fact.label == "customers in Hyderabad")
    assert (hyderabad.values["versus"], "points" in hyderabad.values) == ("below", True)
    assert [fact.label for fact in facts if fact.values.get("versus") == "below"] == ["customers in Hyderabad"]
    worst = next(sentence for sentence in sentences if "lowest delivery rate" in sentence)
    assert worst.startswith("Customers in Hyderabad had the lowest delivery rate")
    assert hyderabad.printed["interval"] in worst


def test_with_no_difference_planted_at_least_95_percent_of_campaigns_state_none() -> None:
    rng = np.random.default_rng(2026)
    runs = 400
    stating = sum(bool(stated_differences(*simulated_campaign(rng, 600, 0.10))) for _ in range(runs))

    assert stating / runs <= 0.05, f"{stating} of {runs} null campaigns stated a difference"


def test_the_issues_hyderabad_is_within_chance_and_said_so() -> None:
    """72 of 85 delivered (85%) against a campaign's 91% is z ~ 1.8 before any correction: not a finding."""
    rng = np.random.default_rng(1)
    log = pl.DataFrame(
        {"customer_id": range(1, 1_001), "status": ["delivered"] * 72 + ["failed"] * 13 + ["delivered"] * 838
         + ["failed"] * 77, "reason": None},
        schema={"customer_id": pl.Int64(), "status": pl.String(), "reason": pl.String()},
    )  # fmt: skip
    cities = ["Hyderabad"] * 85 + list(rng.choice(CITIES[:3], 915))
    features = pl.DataFrame({"customer_id": range(1, 1_001), "city": cities})

    facts = campaign_facts(log, features, NO_OTHERS, channel="sms", currency="₹")
    sentences = [fill(sentence, by_id(facts)).text for sentence in compose_insights(facts)]

    hyderabad = next(fact for fact in facts if fact.label == "customers in Hyderabad")
    assert (hyderabad.values["rate"], hyderabad.values["versus"]) == (85, WITHIN_CHANCE)
    assert "points" not in hyderabad.values
    assert "No city group differs beyond chance from the campaign's 91% delivery rate." in sentences


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [(72, 85, 0.7557, 0.9084), (0, 10, 0.0, 0.2775), (10, 10, 0.7225, 1.0), (335, 400, 0.7982, 0.8704)],
)
def test_the_wilson_interval_is_the_score_interval_worked_by_hand(
    successes: int, trials: int, low: float, high: float
) -> None:
    assert wilson_interval(successes, trials) == pytest.approx((low, high), abs=1e-4)


def test_holm_rejects_step_down_and_stops_at_the_first_that_fails() -> None:
    assert holm([0.01, 0.04, 0.03, 0.2]) == [True, False, False, False]  # 0.01 <= .05/4, then 0.03 > .05/3
    assert holm([0.001, 0.012, 0.02]) == [True, True, True]  # .001 <= .05/3, .012 <= .05/2, .02 <= .05


def test_the_same_gap_is_a_finding_alone_but_not_among_twelve_comparisons() -> None:
    gap = Comparison(delivered=170, failed=30, other_delivered=1_800, other_failed=200)  # 85% against 90%
    level = Comparison(delivered=180, failed=20, other_delivered=1_800, other_failed=200)  # 90% against 90%

    assert 0.01 < p_value(gap) < 0.05
    assert beyond_chance([gap]) == [True]
    assert beyond_chance([gap, *[level] * 11]) == [False] * 12
