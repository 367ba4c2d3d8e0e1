"""The delivery worker's `/metrics`: messages by channel and outcome, rate-limit waits, and receipts applied, moved
by a sender posting to the vendor simulator and by the receipts applier."""

from __future__ import annotations

import asyncio

import redis
from sqlalchemy import Engine

from engine import streams
from engine.campaigns.receipts import STREAM, drain_receipts
from engine.campaigns.sender import run_sender
from tests.engine.campaigns.conftest import Vendor
from tests.engine.campaigns.helpers import delivery_settings, features, launch, log_rows
from tests.fixtures.metrics import scrape, value


def test_sent_messages_and_rate_limit_waits_are_counted(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor, worker_metrics: str
) -> None:
    url, _ = start_vendor()
    settings = delivery_settings(url, delivery_rate_limit=200, delivery_batch_size=100)
    launch(database, redis_client, settings, features(400))
    before = scrape(worker_metrics)

    asyncio.run(run_sender(database, redis_client, settings, consumer="tests", until_idle=True))

    after = scrape(worker_metrics)
    sent = "xeno_messages_total"
    assert value(after, sent, channel="sms", outcome="sent") == value(before, sent, channel="sms", outcome="sent") + 400
    waited = "xeno_delivery_rate_limit_wait_seconds_total"
    assert value(after, waited, limit="overall") > value(before, waited, limit="overall")


def test_receipts_are_counted_by_what_they_changed(
    database: Engine, redis_client: redis.Redis, worker_metrics: str
) -> None:
    settings = delivery_settings()
    [message] = [
        row["id"] for row in log_rows(database, launch(database, redis_client, settings, features(1)).campaign_id)
    ]
    sent = {"vendor_message_id": "vm_1", "reference": message, "status": "sent", "reason": None,
            "occurred_at": "2026-01-01T12:00:01Z"}  # fmt: skip
    streams.publish(redis_client, settings.stream(STREAM), [sent, sent, {"status": "lost"}])
    before = scrape(worker_metrics)

    drain_receipts(database, redis_client, settings, consumer="tests")

    after = scrape(worker_metrics)
    for outcome in ("changed", "unchanged", "malformed"):
        assert (
            value(after, "xeno_receipts_total", outcome=outcome)
            == value(before, "xeno_receipts_total", outcome=outcome) + 1
        )
