"""Who will actually receive a campaign: the preview's count is what the launch at the same moment logs."""

from __future__ import annotations

from collections import Counter

import polars as pl
import redis
from sqlalchemy import Engine

from engine.campaigns.reach import Reach, audience_reach, snapshot_reach
from engine.channels import get_channel
from engine.consent import preferences
from engine.consent.suppression import suppress
from tests.engine.campaigns.helpers import NOON, delivery_settings, features, launch, log_rows
from tests.engine.consent.test_suppression import add_customers


def test_the_reach_counts_consent_address_suppression_and_quiet_hours_as_the_launch_then_does(
    database: Engine, redis_client: redis.Redis
) -> None:
    settings = delivery_settings()  # quiet from 21:00 to 09:00
    evening = NOON.replace(hour=18)  # 23:30 in Kolkata
    frame = features(
        6,
        sms_consent=[True, False, False, True, True, True],
        phone=["+919900000001", "+919900000002", "+919900000003", None, "+919900000005", "+919900000006"],
        timezone=["UTC", "UTC", "UTC", "UTC", "UTC", "Asia/Kolkata"],
    )
    with database.begin() as conn:
        suppress(conn, "sms", "+91 99000 00005", "stop", "test")

    with database.connect() as conn:
        reach = audience_reach(conn, frame, get_channel("sms"), settings, evening)
    report = launch(database, redis_client, settings, frame, now=evening)

    assert (reach.audience, reach.receiving, reach.held) == (6, 2, 1)
    assert reach.skipped == {"no consent to SMS": 2, "no phone number": 1, "suppressed: replied STOP": 1}
    assert list(reach.skipped) == ["no consent to SMS", "no phone number", "suppressed: replied STOP"]
    logged = Counter(row["reason"] for row in log_rows(database, report.campaign_id) if row["status"] == "skipped")
    assert logged == reach.skipped
    assert report.queued + report.deferred == reach.receiving


def test_the_builders_reach_from_what_it_keeps_per_snapshot_follows_the_list_and_the_log_as_the_launch_does(
    database: Engine, redis_client: redis.Redis
) -> None:
    settings = delivery_settings(frequency_cap=1)
    evening = NOON.replace(hour=18)
    snapshot = features(
        7,
        sms_consent=[True, False, True, True, True, True, True],
        phone=["+919900000001", "+919900000002", " ", "+919900000004", "+91 99000-00005", "+919900000006", None],
        timezone=["UTC", "UTC", "UTC", "Asia/Kolkata", "UTC", "UTC", None],
    )
    members = pl.Series([True, True, True, True, True, True, False])
    sms = get_channel("sms")

    def both() -> tuple[Reach, Reach]:
        with database.connect() as conn:
            kept = snapshot_reach(conn, snapshot, members, sms, settings, evening)
            asked = audience_reach(conn, snapshot.filter(members), sms, settings, evening)
        return kept, asked

    kept, asked = both()
    assert kept == asked
    with database.begin() as conn:
        suppress(conn, "sms", "+919900000005", "stop", "test")  # the kept verdicts follow a change of the list
    kept, asked = both()
    assert kept == asked
    assert kept.skipped == {"no consent to SMS": 1, "no phone number": 1, "suppressed: replied STOP": 1}
    launch(database, redis_client, settings, snapshot.filter(members), now=evening)  # now at the frequency cap
    kept, asked = both()
    assert kept == asked
    assert kept.receiving == 0


def test_the_builders_reach_after_a_delta_checks_changed_and_new_addresses_against_the_list(database: Engine) -> None:
    settings = delivery_settings()
    sms = get_channel("sms")
    with database.begin() as conn:
        suppress(conn, "sms", "+919900000002", "stop", "test")
        suppress(conn, "sms", "+919900000009", "hard_bounce", "test")
    before = features(4)  # customer 2 suppressed
    after_delta = pl.concat(
        [
            before.with_columns(
                phone=pl.when(pl.col("customer_id") == 3).then(pl.lit("+91 99000 00009")).otherwise("phone")
            ),
            features(1, first_id=5, phone=["+919900000002"]),
        ]
    )  # customer 3 moved to a bounced number; customer 5 is new, on the number customer 2 stopped
    erased = after_delta.filter(pl.col("customer_id") != 1)  # no longer the rows before with more after them

    with database.connect() as conn:
        for snapshot in (before, after_delta, erased):
            everyone = pl.Series([True] * snapshot.height)
            kept = snapshot_reach(conn, snapshot, everyone, sms, settings, NOON)
            assert kept == audience_reach(conn, snapshot, sms, settings, NOON)
    assert kept.skipped == {"suppressed: replied STOP": 2, "suppressed: hard bounce": 1}


def test_the_kept_reach_of_a_campaign_with_a_topic_leaves_out_who_left_it_as_the_launch_then_does(
    database: Engine, redis_client: redis.Redis
) -> None:
    settings = delivery_settings()
    add_customers(database, 5)
    snapshot = features(5)
    members = pl.Series([True, True, True, True, False])
    sms = get_channel("sms")
    with database.begin() as conn:
        for key in ("offers", "news"):
            preferences.save_topic(conn, preferences.Topic(key, key.title(), ""))
        preferences.set_topic(conn, 1, "offers", False, "test")
        preferences.set_topic(conn, 3, "news", False, "test")
        suppress(conn, "sms", "+919900000002", "stop", "test")

    def kept_and_asked(topic: str | None) -> tuple[Reach, Reach]:
        with database.connect() as conn:
            kept = snapshot_reach(conn, snapshot, members, sms, settings, NOON, topic=topic)
            asked = audience_reach(conn, snapshot.filter(members), sms, settings, NOON, topic=topic)
        return kept, asked

    for topic in (None, "offers", "news"):
        kept, asked = kept_and_asked(topic)
        assert kept == asked
    assert kept.skipped == {"left the topic 'news'": 1, "suppressed: replied STOP": 1}
    with database.begin() as conn:  # the kept opt-outs follow customers leaving and rejoining
        preferences.set_topic(conn, 1, "offers", True, "test")
        preferences.set_topic(conn, 2, "offers", False, "test")  # suppressed already: that reason comes first
        preferences.set_topic(conn, 3, "offers", False, "test")
        preferences.set_topic(conn, 4, "offers", False, "test")
    kept, asked = kept_and_asked("offers")
    report = launch(database, redis_client, settings, snapshot.filter(members), topic="offers")

    assert kept == asked
    assert kept.skipped == {"left the topic 'offers'": 2, "suppressed: replied STOP": 1}
    logged = Counter(row["reason"] for row in log_rows(database, report.campaign_id) if row["status"] == "skipped")
    assert logged == kept.skipped
    assert report.queued + report.deferred == kept.receiving == 1
