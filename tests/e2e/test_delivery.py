"""Delivery end to end on loopback: launch, senders, the vendor simulator, signed receipts through the API,
the receipts applier and completion, against faults, and a sender killed mid-campaign."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import Engine

from api.vendor.app import create_app
from api.vendor.config import Faults, VendorConfig
from engine import streams
from engine.campaigns.progress import get_campaign
from engine.campaigns.queue import GROUP, STREAM
from engine.campaigns.receipts import drain_receipts
from engine.campaigns.sender import run_sender
from engine.settings import Settings
from engine.webhooks import generate_secret
from engine.workers.delivery import housekeeping
from tests.api.vendor.loopback import serve, wait_until
from tests.engine.campaigns.helpers import delivery_settings, features, launch, log_rows, receipts_secret

ROOT = Path(__file__).resolve().parents[2]
Vendor = Callable[[Faults], tuple[str, httpx.Client]]


@pytest.fixture
def start_vendor(live_api: str) -> Iterator[Vendor]:
    """Simulators posting signed receipts to the API on loopback, which takes them with the shared secret."""
    secret = generate_secret()
    with receipts_secret(secret), ExitStack() as stack:

        def start(faults: Faults) -> tuple[str, httpx.Client]:
            config = VendorConfig(callback_url=f"{live_api}/v1/receipts", webhook_secret=secret, seed=5,
                                  receipt_backoff_s=0.05, faults=faults)  # fmt: skip
            url = stack.enter_context(serve(create_app(config)))
            return url, stack.enter_context(httpx.Client(base_url=url, timeout=10))

        yield start


def stats(vendor: httpx.Client) -> dict[str, Any]:
    answer: dict[str, Any] = vendor.get("/v1/stats").json()
    return answer


def settle(db: Engine, client: redis.Redis, settings: Settings, vendor: httpx.Client, messages: int) -> None:
    """Wait until the vendor has posted every receipt, then apply them and keep house."""
    wait_until(
        lambda: stats(vendor)["sent"] == messages and stats(vendor)["receipts_pending"] == 0,
        lambda: stats(vendor),
        timeout=60,
    )
    drain_receipts(db, client, settings, consumer="tests")
    housekeeping(db, client, settings)


def assert_every_message_delivered_or_failed_once(db: Engine, campaign_id: int, vendor: httpx.Client) -> None:
    rows = log_rows(db, campaign_id)
    delivered = [row for row in rows if row["status"] == "delivered"]
    failed = [row for row in rows if row["status"] == "failed"]
    assert len(delivered) + len(failed) == len(rows)
    assert all(row["reason"] for row in failed)
    assert all(row["sent_at"] and row["delivered_at"] and row["vendor_message_id"] for row in delivered)
    assert all(row["failed_at"] and row["vendor_message_id"] for row in failed)
    counters = stats(vendor)
    assert counters["sent"] == len(rows)  # the vendor sent no message twice
    assert counters["outcomes"] == {"delivered": len(delivered), "failed": len(failed)}
    campaign = get_campaign(db, campaign_id)
    assert (campaign.status, campaign.counts.delivered, campaign.counts.failed) == (
        "completed", len(delivered), len(failed),
    )  # fmt: skip


def test_with_thirty_percent_of_sends_failing_every_message_ends_delivered_or_failed_once(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor
) -> None:
    faults = Faults(
        error_rate_5xx=0.1, error_rate_429=0.1, retry_after_s=1, timeout_rate=0.1, timeout_hang_ms=600,
        sent_receipts=True, receipt_delay_ms=50, receipt_batch_size=50, duplicate_rate=0.2, out_of_order_rate=0.3,
        late_rate=0.1, late_ms=300, redelivery_rate=0.2,
    )  # fmt: skip
    url, vendor = start_vendor(faults)
    settings = delivery_settings(url, delivery_batch_size=25, delivery_request_timeout_s=0.3, delivery_max_attempts=20)
    phones = [f"+9199{n:08d}" if n % 100 else "12345" for n in range(1, 2001)]  # 20 numbers no carrier takes
    campaign_id = launch(database, redis_client, settings, features(2000, phone=phones)).campaign_id

    report = asyncio.run(run_sender(database, redis_client, settings, consumer="tests", until_idle=True))
    settle(database, redis_client, settings, vendor, 2000)

    assert report.sent == 2000
    assert report.retries > 0
    assert {"5xx", "429", "timeout"} <= set(stats(vendor)["responses"])
    assert stats(vendor)["receipts_posted"] > 2 * 2000  # sent and final receipts, some posted again
    assert_every_message_delivered_or_failed_once(database, campaign_id, vendor)
    invalid = [row for row in log_rows(database, campaign_id) if row["address"] == "12345"]
    assert {(row["status"], row["reason"]) for row in invalid} == {("failed", "invalid number")}


def test_a_sender_killed_mid_campaign_is_taken_over_without_double_sends(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor, tmp_path: Path
) -> None:
    url, vendor = start_vendor(Faults(latency_ms=150, receipt_delay_ms=50))
    settings = delivery_settings(url, delivery_claim_idle_ms=200)
    campaign_id = launch(database, redis_client, settings, features(1500)).campaign_id
    streams.ensure_group(redis_client, settings.stream(STREAM), GROUP)
    env = {**os.environ, "XENO_DELIVERY_VENDOR_URL": url, "XENO_DELIVERY_CONCURRENCY": "1"}
    argv = [sys.executable, "-m", "engine.cli", "deliver", "--parts", "sender", "--consumer", "doomed"]
    with (tmp_path / "sender.log").open("wb") as output:
        doomed = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:

        def mid_request() -> bool:
            """Past 300 sends, with an entry held for 30-90 ms: its request is at the vendor (150 ms latency)."""
            held: Any = redis_client.xpending_range(settings.stream(STREAM), GROUP, "-", "+", 1, "doomed")
            return bool(held and 30 <= held[0]["time_since_delivered"] <= 90 and stats(vendor)["sent"] >= 300)

        wait_until(mid_request, lambda: (stats(vendor)["sent"], (tmp_path / "sender.log").read_text()), timeout=90)
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
    sent_before = stats(vendor)["sent"]
    assert 300 <= sent_before < 1500

    time.sleep(0.25)  # the dead sender's entry has been idle for longer than delivery_claim_idle_ms
    report = asyncio.run(run_sender(database, redis_client, settings, consumer="survivor", until_idle=True))
    settle(database, redis_client, settings, vendor, 1500)

    assert report.reclaimed >= 1  # the dead sender's entries (one in flight, maybe the next one read ahead)
    assert_every_message_delivered_or_failed_once(database, campaign_id, vendor)
