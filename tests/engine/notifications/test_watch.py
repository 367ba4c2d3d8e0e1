"""The notification scan: each event is notified exactly once, however often the scan runs, to the right people."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from sqlalchemy import Connection, Engine, insert, text

from engine.auth.roles import Role
from engine.campaigns.audience import FrameAudience
from engine.campaigns.launch import launch_campaign
from engine.campaigns.progress import complete_finished_campaigns
from engine.ingest import deadletters
from engine.notifications.store import list_for_user
from engine.notifications.watch import watch_once
from engine.schema import feature_snapshots
from engine.settings import Settings, get_settings
from tests.engine.campaigns.helpers import NOON, delivery_settings, features, new_campaign
from tests.engine.notifications.helpers import AFTER, completed_campaign, kinds_seen, sending_campaign
from tests.fixtures.users import signed_in


@pytest.fixture
def settings() -> Settings:
    return get_settings().model_copy(update={"notify_failure_rate": 0.2, "notify_failure_min": 20})


def notification_rows(db: Engine) -> list[dict[str, object]]:
    with db.connect() as conn:
        return [dict(row) for row in conn.execute(text("SELECT * FROM notifications ORDER BY id")).mappings()]


def test_a_completed_campaign_is_announced_once_with_its_counts(
    database: Engine, redis_client: redis.Redis, settings: Settings
) -> None:
    campaign_id = completed_campaign(database, redis_client, settings, delivered=9, failed=1)

    first, second = watch_once(database, settings, AFTER), watch_once(database, settings, AFTER)

    assert len(first) == 1
    assert second == []
    [row] = notification_rows(database)
    assert (row["kind"], row["campaign_id"], row["severity"]) == ("campaign_completed", campaign_id, "info")
    assert "9 delivered, 1 failed and 0 skipped of 10" in str(row["body"])


def test_a_campaign_whose_launch_failed_is_announced_once_with_the_reason(
    database: Engine, redis_client: redis.Redis, settings: Settings
) -> None:
    campaign_id = new_campaign(database, rule={"field": "total_spend", "op": ">", "value": 5})
    launch_campaign(database, redis_client, delivery_settings(), campaign_id,
                    FrameAudience(features(3).drop("total_spend")), now=NOON)  # fmt: skip

    assert len(watch_once(database, settings, AFTER)) == 1
    assert watch_once(database, settings, AFTER) == []
    [row] = notification_rows(database)
    assert (row["kind"], row["campaign_id"], row["severity"]) == ("campaign_failed", campaign_id, "error")
    assert "total_spend" in str(row["body"])


def test_delivery_failures_above_the_threshold_are_announced_once_while_the_campaign_sends(
    database: Engine, redis_client: redis.Redis, settings: Settings
) -> None:
    campaign_id = sending_campaign(database, redis_client, delivered=20, failed=10, pending=5)

    assert len(watch_once(database, settings, AFTER)) == 1
    assert watch_once(database, settings, AFTER) == []
    [row] = notification_rows(database)
    assert (row["kind"], row["campaign_id"]) == ("delivery_failures", campaign_id)
    assert row["detail"] == {
        "delivered": 20,
        "failed": 10,
        "skipped": 0,
        "awaiting_receipt": 0,
        "total": 35,
        "failure_rate": 0.3333,
    }
    assert "33%" in str(row["title"])


@pytest.mark.parametrize(
    ("delivered", "failed"),
    [(16, 4), (9, 6)],  # exactly at the 20% threshold; 40% failed but only 15 messages final (minimum 20)
)
def test_failures_at_the_threshold_or_too_few_to_judge_are_not_announced(
    database: Engine, redis_client: redis.Redis, settings: Settings, delivered: int, failed: int
) -> None:
    sending_campaign(database, redis_client, delivered=delivered, failed=failed, pending=5)

    assert watch_once(database, settings, AFTER) == []


def test_a_campaign_that_completes_with_too_many_failures_gets_both_notices(
    database: Engine, redis_client: redis.Redis, settings: Settings
) -> None:
    completed_campaign(database, redis_client, settings, delivered=15, failed=15)

    watch_once(database, settings, AFTER)
    watch_once(database, settings, AFTER)

    assert sorted(str(row["kind"]) for row in notification_rows(database)) == [
        "campaign_completed",
        "delivery_failures",
    ]


def completed_awaiting_receipts(db: Engine, client: redis.Redis, settings: Settings, *, delivered: int, failed: int,
                                awaiting: int) -> int:  # fmt: skip
    """A campaign completed once its last `awaiting` messages went unanswered past the receipt timeout."""
    campaign_id = sending_campaign(db, client, delivered=delivered, failed=failed, pending=awaiting)
    with db.begin() as conn:
        conn.execute(
            text("UPDATE communication_log SET status = 'sent', sent_at = :at "
                 "WHERE campaign_id = :id AND status = 'queued'"),
            {"at": AFTER - timedelta(seconds=settings.receipt_timeout_s + 60), "id": campaign_id},
        )  # fmt: skip
    assert complete_finished_campaigns(db, settings, AFTER) == [campaign_id]
    return campaign_id


def late_receipts_fail(db: Engine, campaign_id: int) -> None:
    with db.begin() as conn:
        conn.execute(text("UPDATE communication_log SET status = 'failed', reason = 'bounced' "
                          "WHERE campaign_id = :id AND status = 'sent'"), {"id": campaign_id})  # fmt: skip


def test_a_campaign_completed_with_messages_past_the_receipt_timeout_says_how_many_still_await_a_receipt(
    database: Engine, redis_client: redis.Redis, settings: Settings
) -> None:
    completed_awaiting_receipts(database, redis_client, settings, delivered=7, failed=1, awaiting=2)

    watch_once(database, settings, AFTER)

    [row] = notification_rows(database)
    assert row["body"] == "7 delivered, 1 failed and 0 skipped of 10 recipients; 2 still awaiting a receipt."
    assert row["detail"] == {"delivered": 7, "failed": 1, "skipped": 0, "awaiting_receipt": 2, "total": 10}


def test_failures_whose_receipts_arrive_after_completion_are_announced_within_the_lookback(
    database: Engine, redis_client: redis.Redis, settings: Settings
) -> None:
    recent = completed_awaiting_receipts(database, redis_client, settings, delivered=18, failed=2, awaiting=10)
    old = completed_awaiting_receipts(database, redis_client, settings, delivered=18, failed=2, awaiting=10)
    with database.begin() as conn:
        conn.execute(text("UPDATE campaigns SET completed_at = :at WHERE id = :id"),
                     {"at": AFTER - timedelta(days=2), "id": old})  # fmt: skip
    watch_once(database, settings, AFTER)  # 2 of 20 final messages failed: only the completion notice
    late_receipts_fail(database, recent)
    late_receipts_fail(database, old)

    assert watch_once(database, settings, AFTER + timedelta(seconds=10), count_sending=False) == []
    assert len(watch_once(database, settings, AFTER + timedelta(minutes=1))) == 1
    assert [(row["kind"], row["campaign_id"]) for row in notification_rows(database)] == [
        ("campaign_completed", recent),
        ("delivery_failures", recent),
    ]
    assert notification_rows(database)[-1]["detail"]["failed"] == 12  # type: ignore[index]


def test_new_dead_letters_are_announced_once_per_growth_with_how_many(
    database: Engine, redis_client: redis.Redis, settings: Settings
) -> None:
    def dead_letter(entry: str) -> None:
        with database.begin() as conn:
            deadletters.record(conn, entry, "customers", '{"external_id": null}', "external_id is missing")

    dead_letter("1-0")
    dead_letter("2-0")
    assert len(watch_once(database, settings, AFTER)) == 1
    assert watch_once(database, settings, AFTER) == []
    dead_letter("3-0")
    assert len(watch_once(database, settings, AFTER)) == 1

    first, second = notification_rows(database)
    assert (first["title"], second["title"]) == ("2 ingest entries dead-lettered", "1 ingest entry dead-lettered")
    assert second["detail"] == {"new": 1, "through_id": 3, "waiting": 3, "window_after_id": 2, "window_count": 1}


def test_a_dead_letter_committed_after_a_scan_counted_a_newer_one_is_still_announced(
    database: Engine, redis_client: redis.Redis, settings: Settings
) -> None:
    def dead_letter(conn: Connection, entry: str) -> None:
        deadletters.record(conn, entry, "customers", '{"external_id": null}', "external_id is missing")

    with database.connect() as slow:
        slow_transaction = slow.begin()
        dead_letter(slow, "1-0")  # takes id 1 but stays invisible until its transaction commits
        with database.begin() as conn:
            dead_letter(conn, "2-0")
        assert len(watch_once(database, settings, AFTER)) == 1
        slow_transaction.commit()

    assert len(watch_once(database, settings, AFTER)) == 1
    assert watch_once(database, settings, AFTER) == []
    assert [row["title"] for row in notification_rows(database)] == [
        "1 ingest entry dead-lettered",
        "1 ingest entry dead-lettered",
    ]
    assert notification_rows(database)[-1]["detail"] == {
        "new": 1,
        "through_id": 2,
        "waiting": 2,
        "window_after_id": 2,
        "window_count": 0,
    }


def test_a_snapshot_older_than_its_schedule_is_announced_once_per_version(
    database: Engine, redis_client: redis.Redis, settings: Settings
) -> None:
    with database.begin() as conn:
        conn.execute(
            insert(feature_snapshots).values(
                created_at=NOON, taken_at=NOON, row_count=0, event_count=0, table_name="features.customer_features_v1",
                features_path="v1.parquet", events_path="e1.parquet", columns=[], source_totals={},
            )
        )  # fmt: skip
    stale_after = timedelta(seconds=settings.notify_snapshot_stale_s)

    assert watch_once(database, settings, NOON + stale_after) == []
    assert len(watch_once(database, settings, NOON + stale_after + timedelta(minutes=1))) == 1
    assert watch_once(database, settings, NOON + stale_after + timedelta(hours=5)) == []
    [row] = notification_rows(database)
    assert (row["kind"], row["title"]) == ("snapshot_stale", "Feature snapshot v1 is 91 min old")


def test_campaign_notices_reach_marketers_admins_and_the_creator_and_pipeline_notices_reach_analysts(
    database: Engine, redis_client: redis.Redis, settings: Settings
) -> None:
    creator, _ = signed_in(database, Role.viewer, "creator@shop.example")
    viewer, _ = signed_in(database, Role.viewer)
    analyst, _ = signed_in(database, Role.analyst)
    marketer, _ = signed_in(database, Role.marketer)
    admin, _ = signed_in(database, Role.admin)
    completed_campaign(database, redis_client, settings, delivered=5, failed=0, created_by=creator.id)
    with database.begin() as conn:
        deadletters.record(conn, "1-0", "orders", "{}", "customer unknown")

    watch_once(database, settings, AFTER)

    assert kinds_seen(database, viewer) == []
    assert kinds_seen(database, creator) == ["campaign_completed"]
    assert kinds_seen(database, analyst) == ["dead_letters"]
    assert kinds_seen(database, marketer) == kinds_seen(database, admin) == ["dead_letters", "campaign_completed"]
    assert list_for_user(database, admin)[1].campaign_id is not None


def test_the_first_scan_after_a_deploy_does_not_announce_campaigns_or_dead_letters_from_long_ago(
    database: Engine, redis_client: redis.Redis, settings: Settings
) -> None:
    old = completed_campaign(database, redis_client, settings, delivered=5, failed=25)
    with database.begin() as conn:
        deadletters.record(conn, "1-0", "orders", "{}", "customer unknown")
        conn.execute(text("UPDATE ingest_dead_letters SET failed_at = :at"), {"at": AFTER - timedelta(days=3)})
    recent = completed_campaign(database, redis_client, settings, delivered=5, failed=0)
    with database.begin() as conn:
        conn.execute(text("UPDATE campaigns SET completed_at = :at WHERE id = :id"),
                     {"at": AFTER - timedelta(days=3), "id": old})  # fmt: skip

    watch_once(database, settings, AFTER)

    assert [(row["kind"], row["campaign_id"]) for row in notification_rows(database)] == [
        ("campaign_completed", recent)
    ]


def test_a_sending_campaign_is_counted_only_when_asked_and_a_finishing_one_always_gets_its_last_look(
    database: Engine, redis_client: redis.Redis, settings: Settings
) -> None:
    sending = sending_campaign(database, redis_client, delivered=20, failed=10, pending=5)

    assert watch_once(database, settings, AFTER, count_sending=False) == []

    finishing = completed_campaign(database, redis_client, settings, delivered=15, failed=15)
    watch_once(database, settings, AFTER, count_sending=False)
    assert sorted((str(row["kind"]), row["campaign_id"]) for row in notification_rows(database)) == [
        ("campaign_completed", finishing),
        ("delivery_failures", finishing),
    ]
    assert len(watch_once(database, settings, AFTER)) == 1
    assert notification_rows(database)[-1]["campaign_id"] == sending
