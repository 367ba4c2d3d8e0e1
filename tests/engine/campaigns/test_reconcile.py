"""Receipts that never came are asked for at the vendor, and its answers go through the receipts stream."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import pytest
import redis
from pydantic import SecretStr, ValidationError
from sqlalchemy import Engine, text

from api.vendor.config import Faults
from engine import streams
from engine.campaigns.progress import get_campaign
from engine.campaigns.receipts import STREAM, drain_receipts
from engine.campaigns.reconcile import Reconciler, ReconcileReport
from engine.campaigns.sender import run_sender
from engine.settings import Settings
from engine.webhooks import generate_secret
from engine.workers import delivery as worker
from tests.api.vendor.loopback import serve
from tests.engine.campaigns.conftest import Vendor
from tests.engine.campaigns.helpers import NOON, delivery_settings, features, launch, log_rows
from tests.engine.channels import providers
from tests.engine.channels.providers import Provider

AFTER_S = 300.0


def vendor_stats(client: httpx.Client) -> dict[str, Any]:
    answer: dict[str, Any] = client.get("/v1/stats").json()
    return answer


def sent_at_noon(
    db: Engine, settings: Settings, redis_client: redis.Redis, count: int, columns: dict[str, Any] | None = None,
    **campaign: Any,
) -> int:  # fmt: skip
    """A campaign of `count` messages (to customers with these feature `columns`) posted to the provider and still
    `sent`, each sent at NOON."""
    campaign_id = launch(db, redis_client, settings, features(count, **(columns or {})), **campaign).campaign_id
    asyncio.run(run_sender(db, redis_client, settings, consumer="tests", until_idle=True))
    with db.begin() as conn:
        conn.execute(text("UPDATE communication_log SET sent_at = :noon WHERE status = 'sent'"), {"noon": NOON})
    return campaign_id


def reconcile(db: Engine, client: redis.Redis, settings: Settings, at: timedelta, **options: Any) -> ReconcileReport:
    """One round, `at` after NOON."""

    async def one_round() -> ReconcileReport:
        async with Reconciler(db, client, settings, **options) as reconciler:
            return await reconciler.reconcile_once(NOON + at)

    return asyncio.run(one_round())


def checked(db: Engine, campaign_id: int) -> Counter[Any]:
    return Counter(row["receipt_checked_at"] for row in log_rows(db, campaign_id))


def test_a_campaign_whose_receipts_were_all_dropped_completes_once_the_worker_asks_the_vendor(
    database: Engine, redis_client: redis.Redis, live_api: str, start_vendor: Vendor
) -> None:
    # The API has no receipts secret, so it refuses every callback (401) and the vendor drops them.
    url, vendor = start_vendor(
        Faults(receipt_delay_ms=0), callback_url=f"{live_api}/v1/receipts", webhook_secret=generate_secret()
    )
    settings = delivery_settings(url, receipt_reconcile_after_s=0.5, receipt_reconcile_every_s=0.2)
    campaign_id = launch(database, redis_client, settings, features(300)).campaign_id

    async def run_worker_until_completed() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(worker.serve(settings, consumer="tests", stop=stop))
        deadline = time.monotonic() + 60
        while get_campaign(database, campaign_id).status != "completed" and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stop.set()
        await running

    asyncio.run(run_worker_until_completed())

    campaign = get_campaign(database, campaign_id)
    counters = vendor_stats(vendor)
    assert campaign.status == "completed", campaign.counts
    assert (counters["receipts_dropped"], counters["receipts_posted"]) == (300, 0)
    assert (campaign.counts.delivered, campaign.counts.failed) == (
        counters["outcomes"]["delivered"],
        counters["outcomes"].get("failed", 0),
    )
    rows = log_rows(database, campaign_id)
    assert all(row["receipt_checked_at"] is not None for row in rows)
    assert all((row["delivered_at"] or row["failed_at"]) is not None for row in rows)


def test_only_messages_sent_long_enough_ago_are_asked_and_then_not_again_until_as_long_after(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor
) -> None:
    url, vendor = start_vendor(Faults(receipt_delay_ms=3_600_000))  # the outcome is not in yet: the vendor says `sent`
    settings = delivery_settings(url, receipt_reconcile_after_s=AFTER_S)
    campaign_id = sent_at_noon(database, settings, redis_client, 3)

    too_soon = reconcile(database, redis_client, settings, timedelta(seconds=AFTER_S - 1))
    first = reconcile(database, redis_client, settings, timedelta(seconds=AFTER_S + 1))
    asked_again_too_soon = reconcile(database, redis_client, settings, timedelta(seconds=2 * AFTER_S))
    second = reconcile(database, redis_client, settings, timedelta(seconds=2 * AFTER_S + 2))

    assert too_soon.asked == 0
    assert (first.asked, first.still_sent, first.reconciled) == (3, 3, 0)
    assert asked_again_too_soon.asked == 0
    assert (second.asked, second.still_sent) == (3, 3)
    assert checked(database, campaign_id) == {NOON + timedelta(seconds=2 * AFTER_S + 2): 3}
    assert vendor_stats(vendor)["status_lookups"] == 6
    assert redis_client.xlen(settings.stream(STREAM)) == 0


def test_a_round_asks_about_at_most_its_limit_the_never_asked_first(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor
) -> None:
    url, _ = start_vendor(Faults(receipt_delay_ms=3_600_000))
    settings = delivery_settings(url, receipt_reconcile_after_s=AFTER_S)
    campaign_id = sent_at_noon(database, settings, redis_client, 5)

    rounds = [reconcile(database, redis_client, settings, timedelta(seconds=AFTER_S + n), limit=2) for n in (1, 2, 3)]

    assert [r.asked for r in rounds] == [2, 2, 1]
    assert sorted(checked(database, campaign_id).values()) == [1, 2, 2]


def test_messages_past_the_receipt_timeout_are_left_alone(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor
) -> None:
    url, vendor = start_vendor(Faults(receipt_delay_ms=0))
    settings = delivery_settings(url, receipt_reconcile_after_s=AFTER_S, receipt_timeout_s=4 * AFTER_S)
    sent_at_noon(database, settings, redis_client, 2)

    report = reconcile(database, redis_client, settings, timedelta(seconds=4 * AFTER_S + 1))

    assert report.asked == 0
    assert vendor_stats(vendor)["status_lookups"] == 0


def test_the_vendors_final_answers_move_the_messages_forward_and_a_late_receipt_changes_nothing(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor
) -> None:
    url, vendor = start_vendor(Faults(receipt_delay_ms=0, failure_rate=0.5))
    settings = delivery_settings(url, receipt_reconcile_after_s=AFTER_S)
    campaign_id = sent_at_noon(database, settings, redis_client, 20)

    report = reconcile(database, redis_client, settings, timedelta(seconds=AFTER_S + 1))
    drain_receipts(database, redis_client, settings, consumer="tests")
    reconciled = log_rows(database, campaign_id)
    late = [
        {"vendor_message_id": row["vendor_message_id"], "reference": row["id"], "status": "delivered",
         "occurred_at": "2026-11-25T13:00:00Z"}
        for row in reconciled
    ]  # fmt: skip
    streams.publish(redis_client, settings.stream(STREAM), late)
    drain_receipts(database, redis_client, settings, consumer="tests")

    outcomes = vendor_stats(vendor)["outcomes"]
    assert (report.asked, report.reconciled) == (20, 20)
    assert Counter(row["status"] for row in reconciled) == {
        "delivered": outcomes["delivered"],
        "failed": outcomes["failed"],
    }
    assert all(row["reason"] for row in reconciled if row["status"] == "failed")
    assert log_rows(database, campaign_id) == reconciled


def test_a_vendor_that_does_not_answer_leaves_the_messages_to_be_asked_again_later(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor
) -> None:
    url, _ = start_vendor(Faults(receipt_delay_ms=0))
    settings = delivery_settings(url, receipt_reconcile_after_s=AFTER_S)
    campaign_id = sent_at_noon(database, settings, redis_client, 3)
    down = settings.model_copy(update={"delivery_vendor_url": "http://127.0.0.1:9"})

    refused = reconcile(database, redis_client, down, timedelta(seconds=AFTER_S + 1))
    answered = reconcile(database, redis_client, settings, timedelta(seconds=2 * AFTER_S + 2))

    assert (refused.asked, refused.unanswered, refused.reconciled) == (3, 3, 0)
    assert (answered.asked, answered.reconciled) == (3, 3)
    assert sum(checked(database, campaign_id).values()) == 3


def test_a_reconcile_delay_past_half_the_receipt_timeout_is_refused() -> None:
    with pytest.raises(ValidationError, match="at most half of XENO_RECEIPT_TIMEOUT_S"):
        Settings(XENO_RECEIPT_TIMEOUT_S=600, XENO_RECEIPT_RECONCILE_AFTER_S=301)
    assert Settings(XENO_RECEIPT_TIMEOUT_S=600, XENO_RECEIPT_RECONCILE_AFTER_S=300).receipt_reconcile_after_s == 300


def test_messages_of_a_transport_without_a_status_lookup_are_not_asked_and_the_round_says_why(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor
) -> None:
    url, _ = start_vendor()
    settings = delivery_settings(url)
    sent_at_noon(database, settings, redis_client, 3, {"trait_whatsapp_consent": True}, channel="whatsapp")
    by_meta = settings.model_copy(update={"channel_transports": {"whatsapp": "meta"}})

    skipped = reconcile(database, redis_client, by_meta, timedelta(seconds=AFTER_S + 1))
    asked = reconcile(database, redis_client, settings, timedelta(seconds=AFTER_S + 1))

    assert (skipped.asked, skipped.skipped) == (0, {"whatsapp": "meta has no status lookup: its messages wait for "
                                                                "the provider's reports"})  # fmt: skip
    assert (asked.asked, asked.skipped) == (3, {})


def test_twilio_and_the_e_mail_api_are_asked_about_their_own_messages(
    database: Engine, redis_client: redis.Redis
) -> None:
    twilio, postmark = Provider(), Provider()
    with serve(providers.twilio(twilio)) as twilio_url, serve(providers.postmark(postmark)) as email_url:
        settings = delivery_settings(
            channel_transports={"sms": "twilio", "email": "email_api"}, twilio_url=twilio_url,
            twilio_account_sid=providers.ACCOUNT, twilio_auth_token=SecretStr(providers.AUTH_TOKEN),
            twilio_from="+15005550000",
            email_api_url=email_url, email_api_token=SecretStr(providers.TOKEN), receipt_reconcile_after_s=AFTER_S,
        )  # fmt: skip
        sms = sent_at_noon(database, settings, redis_client, 3)
        email = sent_at_noon(database, settings, redis_client, 2, channel="email", subject="A gift")
        sids = [row["vendor_message_id"] for row in log_rows(database, sms)]
        ids = [row["vendor_message_id"] for row in log_rows(database, email)]
        twilio.statuses.update({sids[0]: "delivered", sids[1]: "undelivered"})  # the third is still on its way
        postmark.statuses.update({ids[0]: "delivered", ids[1]: "bounced"})

        report = reconcile(database, redis_client, settings, timedelta(seconds=AFTER_S + 1))
    drain_receipts(database, redis_client, settings, consumer="tests")

    assert (report.asked, report.reconciled, report.still_sent, report.unanswered) == (5, 4, 1, 0)
    assert [(row["status"], row["reason"], row["failure_kind"]) for row in log_rows(database, sms)] == [
        ("delivered", None, None), ("failed", "invalid number (error 30005)", "permanent"), ("sent", None, None),
    ]  # fmt: skip
    delivered, bounced = log_rows(database, email)
    assert (delivered["status"], delivered["delivered_at"].isoformat()) == ("delivered", "2026-11-25T12:00:03+00:00")
    assert (bounced["status"], bounced["reason"]) == (
        "failed",
        "Bounced: The server was unable to deliver your message",
    )
