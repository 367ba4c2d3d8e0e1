"""Outbound webhooks: campaign and delivery notices reach a receiver on loopback, signed, and retried until
accepted, with the same `webhook-id` and body on every attempt."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest
import redis
from sqlalchemy import Engine, text

from engine import webhooks
from engine.ingest import deadletters
from engine.notifications.outbound import post_due_webhooks
from engine.notifications.watch import watch_once
from engine.settings import get_settings
from tests.engine.notifications.helpers import AFTER, SECRET, Receiver, completed_campaign, receiving, webhook_settings


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    with receiving(**getattr(request, "param", {})) as receiver:
        yield receiver


def outbox(db: Engine) -> list[dict[str, Any]]:
    with db.connect() as conn:
        return [dict(row) for row in conn.execute(text("SELECT * FROM notification_webhooks ORDER BY id")).mappings()]


def test_a_completed_campaign_is_posted_signed_so_the_receiver_can_verify_it(
    database: Engine, redis_client: redis.Redis, receiver: Receiver
) -> None:
    settings = webhook_settings(receiver.url)
    campaign_id = completed_campaign(database, redis_client, settings, delivered=3, failed=1)
    now = AFTER
    watch_once(database, settings, now)

    report = post_due_webhooks(database, settings, now)

    assert report.delivered == 1
    [(headers, body, _)] = receiver.requests
    assert webhooks.verify(SECRET, headers, body) == headers["webhook-id"]
    event = orjson.loads(body)
    assert (event["type"], event["data"]["campaign_id"]) == ("campaign.completed", campaign_id)
    assert event["data"]["detail"] == {"delivered": 3, "failed": 1, "skipped": 0, "awaiting_receipt": 0, "total": 4}
    assert post_due_webhooks(database, settings, now + timedelta(hours=1)).delivered == 0
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("receiver", [{"failures": 2}], indirect=True)
def test_a_receiver_that_fails_twice_gets_the_same_webhook_again_and_accepts_it_once(
    database: Engine, redis_client: redis.Redis, receiver: Receiver
) -> None:
    settings = webhook_settings(receiver.url)
    completed_campaign(database, redis_client, settings, delivered=3, failed=0)
    now = AFTER
    watch_once(database, settings, now)

    rounds = [post_due_webhooks(database, settings, now + timedelta(seconds=offset)) for offset in (0, 0.5, 1.5, 4, 10)]

    assert [(r.delivered, r.retrying) for r in rounds] == [(0, 1), (0, 0), (0, 1), (1, 0), (0, 0)]
    assert [status for _, _, status in receiver.requests] == [500, 500, 204]
    assert len({headers["webhook-id"] for headers, _, _ in receiver.requests}) == 1
    assert len({body for _, body, _ in receiver.requests}) == 1
    for headers, body, _ in receiver.requests:
        webhooks.verify(SECRET, headers, body)
    [row] = outbox(database)
    assert (row["attempts"], row["delivered_at"] is not None, row["last_error"]) == (3, True, None)


@pytest.mark.parametrize("receiver", [{"failures": 99}], indirect=True)
def test_a_receiver_that_keeps_failing_is_given_up_on_after_the_last_attempt_with_the_error(
    database: Engine, redis_client: redis.Redis, receiver: Receiver
) -> None:
    settings = webhook_settings(receiver.url, notify_webhook_max_attempts=2)
    completed_campaign(database, redis_client, settings, delivered=3, failed=0)
    now = AFTER
    watch_once(database, settings, now)

    rounds = [post_due_webhooks(database, settings, now + timedelta(minutes=offset)) for offset in range(4)]

    assert [r.gave_up for r in rounds] == [0, 1, 0, 0]
    assert len(receiver.requests) == 2
    [row] = outbox(database)
    assert row["gave_up_at"] is not None
    assert str(row["last_error"]).startswith("HTTP 500")


def test_only_campaign_and_delivery_events_go_out(
    database: Engine, redis_client: redis.Redis, receiver: Receiver
) -> None:
    settings = webhook_settings(receiver.url)
    with database.begin() as conn:
        deadletters.record(conn, "1-0", "orders", "{}", "customer unknown")
    now = AFTER

    assert len(watch_once(database, settings, now)) == 1
    assert outbox(database) == []


def test_without_a_webhook_url_nothing_is_queued(database: Engine, redis_client: redis.Redis) -> None:
    settings = get_settings()
    completed_campaign(database, redis_client, settings, delivered=3, failed=0)

    assert len(watch_once(database, settings, AFTER)) == 1
    assert outbox(database) == []


def test_a_webhook_url_httpx_cannot_parse_is_given_up_on_after_the_last_attempt_instead_of_retried_forever(
    database: Engine, redis_client: redis.Redis
) -> None:
    settings = webhook_settings("http://127.0.0.1:99x/hooks", notify_webhook_max_attempts=2)
    completed_campaign(database, redis_client, settings, delivered=3, failed=0)
    now = AFTER
    watch_once(database, settings, now)

    rounds = [post_due_webhooks(database, settings, now + timedelta(minutes=offset)) for offset in range(3)]

    assert [(r.retrying, r.gave_up) for r in rounds] == [(1, 0), (0, 1), (0, 0)]
    [row] = outbox(database)
    assert (row["attempts"], row["gave_up_at"] is not None) == (2, True)
    assert str(row["last_error"]).startswith("InvalidURL")


@pytest.mark.parametrize("receiver", [{"delay_s": 1}], indirect=True)
def test_a_webhook_posted_late_in_a_round_is_timed_from_when_it_was_posted_not_when_the_round_began(
    database: Engine, redis_client: redis.Redis, receiver: Receiver
) -> None:
    settings = webhook_settings(receiver.url)
    for _ in range(2):
        completed_campaign(database, redis_client, settings, delivered=3, failed=0)
    now = AFTER
    watch_once(database, settings, now)

    assert post_due_webhooks(database, settings, now).delivered == 2

    first, second = outbox(database)
    assert first["delivered_at"] >= now + timedelta(seconds=1)
    assert second["delivered_at"] >= now + timedelta(seconds=2)
