"""Smart send time from past delivery outcomes in Postgres: the best local hour outside quiet hours, with the
evidence; the audience's own history or, when too thin, everyone's; no hour at all without enough evidence."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import polars as pl
import pytest
from sqlalchemy import Engine

from engine.ai.insights.history import delivery_outcomes
from engine.ai.insights.send_time import SendTime, campaign_send_time, local_hours, quiet_hour
from engine.campaigns.lifecycle import retry_failed
from engine.campaigns.progress import get_campaign
from engine.segments.polars_backend import PolarsEvaluator
from engine.settings import get_settings
from tests.engine.ai.history import draft_campaign, sent_at_local_hour
from tests.engine.campaigns.helpers import features

NOW = datetime(2026, 11, 25, tzinfo=UTC)
CUSTOMERS = features(60, city=["Mumbai"] * 50 + ["Delhi"] * 10, timezone="Asia/Kolkata")
EVALUATOR = PolarsEvaluator(CUSTOMERS, now=NOW)


@pytest.fixture
def hour_ten_is_best(database: Engine) -> None:
    """50 messages an hour from 09:00 to 20:00 local time: 96% delivered at 10, 80% at 14, 70% otherwise; and
    100% at 22:00, inside the quiet hours."""
    for hour in range(9, 21):
        sent_at_local_hour(database, hour, {10: 48, 14: 40}.get(hour, 35))
    sent_at_local_hour(database, 22, 50)


def suggestion(database: Engine, rule: dict[str, object]) -> SendTime:
    return campaign_send_time(
        database, get_settings(), get_campaign(database, draft_campaign(database, rule)), EVALUATOR, NOW
    )


def test_the_best_local_hour_outside_quiet_hours_is_suggested_with_its_evidence(
    database: Engine, hour_ten_is_best: None
) -> None:
    answer = suggestion(database, {"field": "city", "op": "=", "value": "Mumbai"})

    assert answer.hour == 10
    assert (answer.runner_up, answer.lead_points, answer.clear) == (14, 16.0, True)
    assert (answer.basis, answer.sample, answer.notes) == ("audience", 650, ())
    assert answer.summary == (
        "Send at 10:00 in each customer's time zone: 96% of 50 messages sent then were delivered, 16 points more "
        "than at 14:00, the next best (80% of 50)."
    )
    by_hour = {hour.hour: hour for hour in answer.hours}
    assert len(by_hour) == 24
    assert (by_hour[10].sent, by_hour[10].delivered, by_hour[10].rate) == (50, 48, 96.0)
    assert (by_hour[22].rate, by_hour[22].quiet) == (100.0, True)  # better, but never suggested
    assert by_hour[4].sent == 0  # 10:15 in Kolkata is 04:45 UTC: the hours are the customers' own


def test_an_audience_without_a_history_of_its_own_gets_everyones_with_a_note(
    database: Engine, hour_ten_is_best: None
) -> None:
    answer = suggestion(database, {"field": "city", "op": "=", "value": "Delhi"})

    assert (answer.hour, answer.basis) == (10, "all customers")
    assert answer.notes == (
        "The audience's own history is too thin (0 messages with an outcome since 29 May 2026), so the suggestion "
        "is from all customers' history.",
    )


def test_too_little_history_gives_no_hour_and_says_why(database: Engine) -> None:
    sent_at_local_hour(database, 10, 10, customers=range(1, 11))
    sent_at_local_hour(database, 15, 5, customers=range(1, 11))

    answer = suggestion(database, {"field": "city", "op": "=", "value": "Mumbai"})

    assert (answer.hour, answer.runner_up, answer.lead_points, answer.sample) == (None, None, None, 20)
    assert answer.summary == (
        "Not enough evidence to suggest a send hour: 20 messages with a known outcome since 29 May 2026, and 0 "
        "hours outside the quiet hours with at least 30 of them; at least two such hours are needed to compare."
    )
    assert [hour.sent for hour in answer.hours if hour.sent] == [10, 10]


def test_a_close_lead_is_suggested_but_called_chance(database: Engine) -> None:
    sent_at_local_hour(database, 11, 41)
    sent_at_local_hour(database, 12, 40)

    answer = suggestion(database, {"field": "customer_id", "op": ">=", "value": 0})

    assert (answer.hour, answer.runner_up, answer.lead_points, answer.clear) == (11, 12, 2.0, False)
    assert answer.summary.endswith("The lead is small enough to be chance.")


def test_history_older_than_the_window_is_not_evidence(database: Engine, hour_ten_is_best: None) -> None:
    later = NOW + timedelta(days=400)
    campaign = get_campaign(database, draft_campaign(database))

    answer = campaign_send_time(database, get_settings(), campaign, EVALUATOR, later)

    assert (answer.hour, answer.sample) == (None, 0)


def test_outcomes_on_another_channel_are_not_evidence(database: Engine, hour_ten_is_best: None) -> None:
    sent_at_local_hour(database, 12, 50, channel="email")

    answer = suggestion(database, {"field": "city", "op": "=", "value": "Mumbai"})  # an SMS campaign

    by_hour = {hour.hour: hour for hour in answer.hours}
    assert (by_hour[12].sent, by_hour[12].delivered) == (50, 35)  # the SMS campaign's alone
    assert (answer.hour, answer.sample) == (10, 650)


def test_outcomes_come_back_from_postgres_counted_per_customer_and_quarter_hour(database: Engine) -> None:
    sent_at_local_hour(database, 10, 48)
    sent_at_local_hour(database, 10, 20)
    sent_at_local_hour(database, 14, 40)

    counted = delivery_outcomes(database, NOW - timedelta(days=180), "sms")

    assert counted.height == 100  # 50 customers at two quarter-hours: not one row for each of the 150 messages
    by_key = {(row["customer_id"], row["utc_quarter"]): (row["delivered"], row["failed"]) for row in counted.to_dicts()}
    assert by_key[(1, 19)] == (2, 0)  # 10:15 in Kolkata is 04:45 UTC, the 20th quarter-hour of the day
    assert by_key[(30, 19)] == (1, 1)
    assert by_key[(49, 19)] == (0, 2)
    assert by_key[(49, 35)] == (0, 1)


@pytest.mark.parametrize(
    ("zone", "now", "hour"),
    [
        ("Asia/Kolkata", NOW, 10),  # 04:30 UTC + 5:30
        ("Asia/Kathmandu", NOW, 10),  # + 5:45: 10:15
        ("America/New_York", NOW, 23),  # - 5:00 in November: 23:30 the day before
        ("America/New_York", datetime(2026, 7, 1, tzinfo=UTC), 0),  # - 4:00 in summer time: its offset now
        ("Not/A_Zone", NOW, 4),  # the default zone, UTC
    ],
)
def test_a_customers_local_hour_is_their_zones_offset_now_to_the_quarter_hour(
    zone: str, now: datetime, hour: int
) -> None:
    sent_at_0430_utc = pl.DataFrame({"customer_id": [7], "utc_quarter": [18], "delivered": [1], "failed": [0]})
    zones = pl.DataFrame({"customer_id": [7], "timezone": [zone]})

    assert local_hours(sent_at_0430_utc, zones, "UTC", now)["hour"].to_list() == [hour]


def test_a_retry_of_the_failed_is_timed_for_the_customers_it_retries(database: Engine, hour_ten_is_best: None) -> None:
    sent_at_local_hour(database, 16, 36, customers=range(101, 141))  # 90%: worse than 10:00 for everyone
    parent = sent_at_local_hour(database, 11, 0, customers=range(101, 141))  # all 40 failed
    follow_up = get_campaign(database, retry_failed(database, parent).follow_up)  # its rule is the parent's: everyone
    everyone = PolarsEvaluator(features(200, timezone="Asia/Kolkata"), now=NOW)

    answer = campaign_send_time(database, get_settings(), follow_up, everyone, NOW)

    assert (answer.hour, answer.runner_up, answer.basis, answer.sample) == (16, 11, "audience", 80)
    assert answer.notes == (
        f"The audience is the 40 customers whose messages failed in campaign {parent}, which this campaign retries.",
    )


@pytest.mark.parametrize(
    ("hour", "start", "end", "quiet"),
    [
        (21, time(21), time(9), True),
        (8, time(21), time(9), True),
        (9, time(21), time(9), False),
        (20, time(20, 30), time(9), True),  # the quiet hours begin during it
        (12, time(13), time(17), False),
        (13, time(13), time(17), True),
        (3, None, None, False),
        (3, time(9), time(9), False),
    ],
)
def test_an_hour_is_quiet_when_any_of_it_is(hour: int, start: time | None, end: time | None, quiet: bool) -> None:
    assert quiet_hour(hour, start, end) is quiet
