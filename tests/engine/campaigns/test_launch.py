"""Launch: one log row per recipient, the audience frozen at launch, messages on the delivery stream."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import orjson
import polars as pl
import redis
from sqlalchemy import Engine, text

from engine import streams
from engine.campaigns.audience import FrameAudience
from engine.campaigns.launch import launch_campaign
from engine.campaigns.lifecycle import retry_failed
from engine.campaigns.progress import complete_finished_campaigns, get_campaign
from engine.campaigns.queue import STREAM, DeliveryEntry
from engine.settings import Settings
from engine.workers.delivery import housekeeping
from tests.engine.campaigns.helpers import NOON, delivery_settings, features, launch, log_rows, new_campaign


def stream_entries(client: redis.Redis, settings: Settings) -> list[DeliveryEntry]:
    raw: Any = client.xrange(settings.stream(STREAM))
    return [DeliveryEntry.from_payload(orjson.loads(fields[streams.PAYLOAD])) for _, fields in raw]


def test_launch_logs_every_recipient_and_queues_their_rendered_messages_in_batches(
    database: Engine, redis_client: redis.Redis
) -> None:
    settings = delivery_settings(delivery_batch_size=100)
    frame = features(250, first_name=[None, *[f"N{n}" for n in range(249)]])

    report = launch(database, redis_client, settings, frame, rule={"field": "total_spend", "op": ">=", "value": 0})

    assert (report.status, report.audience, report.queued, report.skipped) == ("sending", 250, 250, {})
    rows = log_rows(database, report.campaign_id)
    assert len(rows) == 250
    assert {row["status"] for row in rows} == {"queued"}
    assert rows[0]["message"] == "Hi there, here is 10% off on your next order!\nReply STOP to opt out"
    assert rows[1]["message"] == "Hi N0, here is 10% off on your next order!\nReply STOP to opt out"
    assert all(row["queued_at"] == NOON and row["address"] == f"+9199{row['customer_id']:08d}" for row in rows)
    assert len({row["idempotency_key"] for row in rows}) == 250
    entries = stream_entries(redis_client, settings)
    assert [len(entry.messages) for entry in entries] == [100, 100, 50]
    published = [message for entry in entries for message in entry.messages]
    assert [m[0] for m in published] == [row["id"] for row in rows]
    assert [(m[1], m[2], m[3]) for m in published] == [(r["idempotency_key"], r["address"], r["message"]) for r in rows]
    campaign = get_campaign(database, report.campaign_id)
    assert (campaign.status, campaign.audience_size, campaign.launched_at) == ("sending", 250, NOON)
    assert campaign.frozen_rule == {"field": "total_spend", "op": ">=", "value": 0}
    assert campaign.snapshot_version == "in-memory"
    assert campaign.counts.queued == 250


def test_the_audience_is_frozen_at_launch(database: Engine, redis_client: redis.Redis) -> None:
    settings = delivery_settings()
    rule = {"field": "city", "op": "=", "value": "Pune"}
    before = features(4, city=["Pune", "Pune", "Agra", "Pune"])
    campaign_id = new_campaign(database, rule=rule)
    launch_campaign(database, redis_client, settings, campaign_id, FrameAudience(before), now=NOON)

    moved = features(6, city=["Agra", "Pune", "Pune", "Pune", "Pune", "Pune"])  # 1 left, 3 and 5 and 6 joined
    again = launch_campaign(database, redis_client, settings, campaign_id, FrameAudience(moved), now=NOON)

    assert [row["customer_id"] for row in log_rows(database, campaign_id)] == [1, 2, 4]
    assert (again.status, again.audience, again.published.entries) == ("sending", 0, 0)
    assert len(stream_entries(redis_client, settings)) == 1


def test_a_saved_segment_is_evaluated_once_at_launch(database: Engine, redis_client: redis.Redis) -> None:
    settings = delivery_settings()
    with database.begin() as conn:
        campaign_id = conn.execute(
            text(
                "INSERT INTO campaigns (name, channel, template, segment_id, status, scheduled_at) "
                "VALUES ('vip', 'sms', 'Hi', 7, 'scheduled', :at) RETURNING id"
            ),
            {"at": NOON},
        ).scalar_one()
    segments = {7: {"field": "total_spend", "op": ">", "value": 2}}

    launch_campaign(database, redis_client, settings, campaign_id, FrameAudience(features(5), segments=segments))

    assert [row["customer_id"] for row in log_rows(database, campaign_id)] == [3, 4, 5]
    assert get_campaign(database, campaign_id).frozen_rule == segments[7]


def test_customers_without_consent_or_an_address_are_skipped_with_the_reason(
    database: Engine, redis_client: redis.Redis
) -> None:
    frame = features(4, sms_consent=[True, False, None, True], phone=["+919900000001", "+919900000002", None, " "])

    report = launch(database, redis_client, delivery_settings(), frame)

    fates = [(row["status"], row["reason"], row["message"]) for row in log_rows(database, report.campaign_id)]
    assert fates[0][:2] == ("queued", None)
    assert fates[1:] == [
        ("skipped", "no consent to SMS", None),
        ("skipped", "no consent to SMS", None),
        ("skipped", "no phone number", None),
    ]
    assert report.skipped == {"no consent to SMS": 2, "no phone number": 1}
    assert sum(len(entry.messages) for entry in stream_entries(redis_client, delivery_settings())) == 1


def test_email_campaigns_go_to_consenting_addresses_with_a_rendered_subject(
    database: Engine, redis_client: redis.Redis
) -> None:
    frame = features(2, email_consent=[True, False])

    report = launch(
        database, redis_client, delivery_settings(), frame, channel="email", subject="{{ first_name }}, a gift"
    )

    first, second = log_rows(database, report.campaign_id)
    assert (first["status"], first["address"], first["subject"]) == ("queued", "customer1@example.com", "Name1, a gift")
    assert (second["status"], second["reason"]) == ("skipped", "no consent to e-mail")


def test_the_frequency_cap_counts_recent_messages_that_went_or_will_go(
    database: Engine, redis_client: redis.Redis
) -> None:
    settings = delivery_settings(frequency_cap=2, frequency_cap_days=7)
    frame = features(4)
    for days_ago in (3, 1):  # two recent campaigns to everyone
        launch(database, redis_client, settings, frame, now=NOON - timedelta(days=days_ago))
    with database.begin() as conn:  # customer 2's messages failed and customer 3's were skipped: they do not count
        conn.execute(text("UPDATE communication_log SET status = 'failed' WHERE customer_id = 2"))
        conn.execute(text("UPDATE communication_log SET status = 'skipped' WHERE customer_id = 3"))
        # customer 4's first message is older than the period
        older = "UPDATE communication_log SET created_at = created_at - interval '5 days' WHERE customer_id = 4 "
        conn.execute(text(older + "AND created_at < :cut"), {"cut": NOON - timedelta(days=2)})

    report = launch(database, redis_client, settings, frame)

    fates = {row["customer_id"]: (row["status"], row["reason"]) for row in log_rows(database, report.campaign_id)}
    assert fates == {
        1: ("skipped", "frequency cap: 2 messages in 7 days"),
        2: ("queued", None),
        3: ("queued", None),
        4: ("queued", None),
    }


def test_quiet_hours_hold_a_message_until_they_end_in_the_customers_time_zone(
    database: Engine, redis_client: redis.Redis
) -> None:
    settings = delivery_settings()  # quiet from 21:00 to 09:00
    evening = NOON.replace(hour=18)  # 23:30 in Kolkata, 13:00 in New York, 18:00 in London
    frame = features(4, timezone=["Asia/Kolkata", "America/New_York", "Europe/London", None])

    report = launch(database, redis_client, settings, frame, now=evening)

    rows = {row["customer_id"]: row for row in log_rows(database, report.campaign_id)}
    assert (rows[1]["status"], rows[1]["not_before"]) == ("pending", evening.replace(hour=3, minute=30) + timedelta(1))
    assert all(rows[n]["status"] == "queued" for n in (2, 3, 4))
    assert (report.queued, report.deferred) == (3, 1)
    assert housekeeping(database, redis_client, settings, now=evening + timedelta(hours=9)).released == 0
    assert housekeeping(database, redis_client, settings, now=evening + timedelta(hours=9, minutes=30)).released == 1
    assert log_rows(database, report.campaign_id)[0]["status"] == "queued"
    assert [m[0] for m in stream_entries(redis_client, settings)[-1].messages] == [rows[1]["id"]]


def test_a_launch_that_died_while_publishing_resumes_after_the_last_published_entry(
    database: Engine, redis_client: redis.Redis
) -> None:
    settings = delivery_settings(delivery_batch_size=10)
    report = launch(database, redis_client, settings, features(95))
    ids = [row["id"] for row in log_rows(database, report.campaign_id)]
    redis_client.delete(settings.stream(STREAM))
    with database.begin() as conn:  # as if it had died after publishing the first 40
        conn.execute(text("UPDATE campaigns SET published_through = :id"), {"id": ids[39]})

    resumed = launch_campaign(database, redis_client, settings, report.campaign_id, FrameAudience(features(0)))

    assert (resumed.published.entries, resumed.published.messages) == (6, 55)
    assert [m[0] for entry in stream_entries(redis_client, settings) for m in entry.messages] == ids[40:]


def test_a_campaign_that_is_not_due_or_not_scheduled_is_left_alone(database: Engine, redis_client: redis.Redis) -> None:
    campaign_id = new_campaign(database, at=NOON + timedelta(hours=1))

    report = launch_campaign(
        database, redis_client, delivery_settings(), campaign_id, FrameAudience(features(3)), now=NOON
    )

    assert (report.status, report.audience) == ("scheduled", 0)
    assert log_rows(database, campaign_id) == []


def test_a_rule_that_does_not_fit_the_snapshot_fails_the_campaign_with_the_reason(
    database: Engine, redis_client: redis.Redis
) -> None:
    campaign_id = new_campaign(database, rule={"field": "total_spend", "op": ">", "value": 5})
    without_spend = features(3).drop("total_spend")

    report = launch_campaign(database, redis_client, delivery_settings(), campaign_id, FrameAudience(without_spend),
                             now=NOON)  # fmt: skip

    campaign = get_campaign(database, campaign_id)
    assert (report.status, campaign.status) == ("failed", "failed")
    assert "total_spend" in (campaign.failure_reason or "")


def test_customers_the_template_cannot_be_rendered_for_are_skipped_with_the_reason(
    database: Engine, redis_client: redis.Redis
) -> None:
    frame = features(2, total_spend=[0.0, 4.0])

    report = launch(database, redis_client, delivery_settings(), frame, template="{{ 100 / total_spend }}% off")

    first, second = log_rows(database, report.campaign_id)
    assert (first["status"], first["message"]) == ("skipped", None)
    assert "ZeroDivisionError" in first["reason"]
    assert (second["status"], second["message"]) == ("queued", "25.0% off\nReply STOP to opt out")


def test_retrying_the_failed_sends_again_only_to_the_failed_recipients_that_can_succeed(
    database: Engine, redis_client: redis.Redis
) -> None:
    settings = delivery_settings()
    parent = launch(database, redis_client, settings, features(5)).campaign_id
    with database.begin() as conn:
        conn.execute(text("UPDATE communication_log SET status = 'delivered'"))
        conn.execute(text("UPDATE communication_log SET status = 'failed', reason = 'unreachable', "
                          "failure_kind = 'transient' WHERE customer_id IN (2, 5)"))  # fmt: skip
        conn.execute(text("UPDATE communication_log SET status = 'failed', reason = 'unsubscribed', "
                          "failure_kind = 'permanent' WHERE customer_id = 3"))  # fmt: skip
    assert complete_finished_campaigns(database, settings, NOON) == [parent]

    follow_up = retry_failed(database, parent, at=NOON)
    retry = follow_up.follow_up
    report = launch_campaign(database, redis_client, settings, retry, FrameAudience(features(5)), now=NOON)

    assert (follow_up.retrying, follow_up.left_out) == (2, {"unsubscribed": 1})

    assert [(row["customer_id"], row["status"]) for row in log_rows(database, retry)] == [(2, "queued"), (5, "queued")]
    child = get_campaign(database, retry)
    assert (child.parent_campaign_id, child.frozen_rule, report.audience) == (
        parent,
        get_campaign(database, parent).frozen_rule,
        2,
    )
    assert {row["idempotency_key"] for row in log_rows(database, retry)}.isdisjoint(
        {row["idempotency_key"] for row in log_rows(database, parent)}
    )


def test_an_empty_audience_launches_and_completes(database: Engine, redis_client: redis.Redis) -> None:
    settings = delivery_settings()
    report = launch(database, redis_client, settings, features(3), rule={"field": "city", "op": "=", "value": "Goa"})

    assert (report.status, report.audience) == ("sending", 0)
    assert complete_finished_campaigns(database, settings, NOON) == [report.campaign_id]
    assert pl.DataFrame(log_rows(database, report.campaign_id)).is_empty()


def test_the_log_lines_of_a_launch_carry_its_campaign_id(
    database: Engine, redis_client: redis.Redis, json_log_lines: list[dict[str, Any]]
) -> None:
    launched = launch(database, redis_client, delivery_settings(), features(3))
    refused = new_campaign(database, rule={"field": "total_spend", "op": ">", "value": 5})
    without_spend = FrameAudience(features(3).drop("total_spend"))
    launch_campaign(database, redis_client, delivery_settings(), refused, without_spend, now=NOON)
    logging.getLogger("tests").info("after the launches")

    lines = [line for line in json_log_lines if line["logger"] == "engine.campaigns.launch"]
    assert [(line["level"], line["campaign_id"]) for line in lines] == [
        ("INFO", launched.campaign_id),
        ("WARNING", refused),
    ]
    assert "queued 3" in lines[0]["message"]
    assert "total_spend" in lines[1]["message"]
    assert "campaign_id" not in json_log_lines[-1]
