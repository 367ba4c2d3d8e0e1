""" "Retry the failed" through the vendor simulator: a message the vendor may already have is not sent twice, and one
it reported failed is really sent again."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import redis
from sqlalchemy import Engine

from api.vendor.config import Faults
from engine import streams
from engine.campaigns.audience import FrameAudience
from engine.campaigns.launch import launch_campaign
from engine.campaigns.lifecycle import retry_failed
from engine.campaigns.progress import complete_finished_campaigns
from engine.campaigns.receipts import STREAM as RECEIPTS
from engine.campaigns.receipts import drain_receipts
from engine.campaigns.sender import SenderReport, run_sender
from engine.settings import Settings
from engine.workers.delivery import housekeeping
from tests.engine.campaigns.conftest import Vendor
from tests.engine.campaigns.helpers import NOON, delivery_settings, features, launch, log_rows

EVENING = NOON.replace(hour=18)  # 23:30 in Kolkata, quiet there until 03:30 UTC
NEXT_MORNING = EVENING + timedelta(hours=10)  # 09:30 in Kolkata
NEXT_NOON = NOON + timedelta(days=1)  # nobody's quiet hours


def send_all(db: Engine, client: redis.Redis, settings: Settings) -> SenderReport:
    return asyncio.run(run_sender(db, client, settings, consumer="tests", until_idle=True))


def test_retrying_the_failed_does_not_send_twice_a_message_the_vendor_took_while_its_answer_was_lost(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor
) -> None:
    url, vendor = start_vendor(Faults(timeout_rate=1, timeout_hang_ms=1_000))  # takes each batch, answers too late
    settings = delivery_settings(url, delivery_request_timeout_s=0.2, delivery_max_attempts=1)
    frame = features(4, timezone=["UTC", "UTC", "Asia/Kolkata", "Asia/Kolkata"])
    parent = launch(database, redis_client, settings, frame, now=EVENING).campaign_id
    send_all(database, redis_client, settings)  # 1 and 2: the vendor has them, the sender never heard it
    vendor.patch("/v1/admin/faults", json={"timeout_rate": 0}).raise_for_status()
    assert housekeeping(database, redis_client, settings, now=NEXT_MORNING).released == 2
    send_all(database, redis_client, settings)  # 3 and 4: taken and acknowledged, then reported unreachable
    unreachable = [
        {"vendor_message_id": row["vendor_message_id"], "reference": row["id"], "status": "failed",
         "reason": "unreachable", "occurred_at": "2026-11-26T04:00:05Z"}
        for row in log_rows(database, parent)[2:]
    ]  # fmt: skip
    late_sent = {"vendor_message_id": "vm_taken", "reference": log_rows(database, parent)[0]["id"], "status": "sent",
                 "occurred_at": "2026-11-25T18:00:01Z"}  # fmt: skip
    streams.publish(redis_client, settings.stream(RECEIPTS), [*unreachable, late_sent])
    drain_receipts(database, redis_client, settings)
    assert complete_finished_campaigns(database, settings, NEXT_NOON) == [parent]
    assert log_rows(database, parent)[0]["vendor_message_id"] == "vm_taken"  # a late `sent` receipt says it had it
    assert [(row["status"], row["failure_kind"], row["reason"]) for row in log_rows(database, parent)] == [
        ("failed", "transient", "the vendor did not accept it after 1 attempts (TimeoutError)"),
        ("failed", "transient", "the vendor did not accept it after 1 attempts (TimeoutError)"),
        ("failed", "transient", "unreachable"),
        ("failed", "transient", "unreachable"),
    ]

    follow_up = retry_failed(database, parent, at=NEXT_NOON).follow_up
    launch_campaign(database, redis_client, settings, follow_up, FrameAudience(frame), now=NEXT_NOON)
    report = send_all(database, redis_client, settings)

    counters = vendor.get("/v1/stats").json()
    assert (counters["sent"], counters["duplicates_suppressed"]) == (6, 2)  # 1 and 2 once, 3 and 4 twice
    assert (report.sent, report.duplicates) == (4, 2)
    keys = [(old["idempotency_key"] == new["idempotency_key"]) for old, new in
            zip(log_rows(database, parent), log_rows(database, follow_up), strict=True)]  # fmt: skip
    assert keys == [True, True, False, False]
