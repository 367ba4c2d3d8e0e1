"""Senders against the vendor simulator on loopback: batches, retries, idempotency, refusals, pause and cancel,
and entries or vendor answers that cannot be read."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import redis
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from api.vendor.config import Faults
from engine import streams
from engine.campaigns.lifecycle import cancel_campaign, pause_campaign, resume_campaign
from engine.campaigns.progress import message_counts
from engine.campaigns.queue import GROUP, STREAM
from engine.campaigns.sender import Sender, SenderReport, run_sender
from engine.channels.transports.http import backoff_seconds, retry_after_seconds
from engine.settings import Settings
from engine.workers.delivery import housekeeping
from tests.api.vendor.loopback import serve
from tests.engine.campaigns.conftest import Vendor
from tests.engine.campaigns.helpers import delivery_settings, features, launch, log_rows


def stats(client: httpx.Client) -> dict[str, Any]:
    return client.get("/v1/stats").json()


def send_all(db: Engine, client: redis.Redis, settings: Settings, consumer: str = "tests") -> SenderReport:
    return asyncio.run(run_sender(db, client, settings, consumer=consumer, until_idle=True))


def send_until(
    db: Engine, client: redis.Redis, settings: Settings, done: Callable[[], bool], timeout_s: float = 30
) -> SenderReport:
    """Run a sender (reclaiming what it left pending) until `done()` holds, or `timeout_s` has passed."""

    async def until_done() -> SenderReport:
        stop = asyncio.Event()
        sending = asyncio.create_task(run_sender(db, client, settings, consumer="tests", stop=stop))
        deadline = time.monotonic() + timeout_s
        while not done() and time.monotonic() < deadline and not sending.done():
            await asyncio.sleep(0.05)
        stop.set()
        return await sending

    return asyncio.run(until_done())


def test_every_queued_message_is_posted_once_in_batches_and_marked_sent(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor
) -> None:
    url, vendor = start_vendor()
    settings = delivery_settings(url, delivery_batch_size=100)
    campaign_id = launch(database, redis_client, settings, features(250)).campaign_id

    report = send_all(database, redis_client, settings)

    assert (report.entries, report.sent, report.failed, report.retries) == (3, 250, 0, 0)
    assert (stats(vendor)["sent"], stats(vendor)["responses"]) == (250, {"accepted": 3})
    rows = log_rows(database, campaign_id)
    assert {row["status"] for row in rows} == {"sent"}
    assert len({row["vendor_message_id"] for row in rows}) == 250
    assert all(row["attempts"] == 1 and row["sent_at"] is not None for row in rows)
    assert streams.backlog(redis_client, settings.stream(STREAM), GROUP) == streams.Backlog(0, 0)


def test_with_a_third_of_requests_failing_every_message_is_still_sent_exactly_once(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor
) -> None:
    faults = Faults(error_rate_5xx=0.1, error_rate_429=0.1, retry_after_s=0, timeout_rate=0.1, timeout_hang_ms=400)
    url, vendor = start_vendor(faults)
    settings = delivery_settings(url, delivery_batch_size=20, delivery_request_timeout_s=0.2, delivery_max_attempts=12)
    campaign_id = launch(database, redis_client, settings, features(1000)).campaign_id

    report = send_all(database, redis_client, settings)

    counters = stats(vendor)
    assert counters["sent"] == 1000
    assert {"5xx", "429", "timeout"} <= set(counters["responses"])
    assert counters["duplicates_suppressed"] > 0  # requests that timed out after sending, sent again
    assert report.retries > 0
    assert message_counts(database, campaign_id).sent == 1000


def test_a_message_the_vendor_never_accepts_fails_with_the_reason_after_the_last_attempt(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor
) -> None:
    url, vendor = start_vendor(Faults(error_rate_5xx=1))
    settings = delivery_settings(url, delivery_max_attempts=3)
    campaign_id = launch(database, redis_client, settings, features(2)).campaign_id

    send_all(database, redis_client, settings)

    fates = {
        (row["status"], row["reason"], row["failure_kind"], row["attempts"]) for row in log_rows(database, campaign_id)
    }
    assert fates == {("failed", "the vendor did not accept it after 3 attempts (HTTP 503)", "transient", 3)}
    assert stats(vendor)["responses"] == {"5xx": 3}


def test_a_batch_refused_as_malformed_fails_only_the_messages_at_fault(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor
) -> None:
    url, vendor = start_vendor()
    settings = delivery_settings(url)
    frame = features(3, email=["a@example.com", "x" * 400 + "@example.com", "c@example.com"])
    campaign_id = launch(database, redis_client, settings, frame, channel="email", subject="Hello").campaign_id

    report = send_all(database, redis_client, settings)

    rows = log_rows(database, campaign_id)
    assert [row["status"] for row in rows] == ["sent", "failed", "sent"]
    assert rows[1]["reason"].startswith("refused by the vendor (422)")
    assert [row["failure_kind"] for row in rows] == [None, "permanent", None]
    assert (report.sent, report.failed, stats(vendor)["sent"]) == (2, 1, 2)


def test_a_vendor_refusing_the_sender_itself_blames_no_message_however_long_it_lasts(
    database: Engine,
    redis_client: redis.Redis,
    start_vendor: Vendor,
    caplog: pytest.LogCaptureFixture,
    json_log_lines: list[dict[str, Any]],
) -> None:
    url, _ = start_vendor(api_key="the-right-key")
    settings = delivery_settings(
        url, delivery_vendor_api_key=SecretStr("a-wrong-key"), delivery_backoff_max_s=0.01, delivery_claim_idle_ms=50
    )
    campaign_id = launch(database, redis_client, settings, features(3)).campaign_id

    def refused_past_the_poison_limit() -> bool:
        refusals = [record for record in caplog.records if "refused the sender itself" in record.getMessage()]
        return len(refusals) > streams.MAX_DELIVERIES + 1

    with caplog.at_level(logging.ERROR, logger="engine.campaigns.sender"):
        send_until(database, redis_client, settings, refused_past_the_poison_limit)

    assert refused_past_the_poison_limit()
    assert {row["status"] for row in log_rows(database, campaign_id)} == {"queued"}
    assert streams.backlog(redis_client, settings.stream(STREAM), GROUP).pending == 1
    said = [line for line in json_log_lines if "refused the sender itself" in line["message"]]
    assert {line.get("campaign_id") for line in said} == {campaign_id}
    right = settings.model_copy(
        update={"delivery_vendor_api_key": SecretStr("the-right-key"), "delivery_claim_idle_ms": 1}
    )
    assert send_all(database, redis_client, right).sent == 3


def test_a_paused_campaign_waits_and_resumes_and_a_cancelled_one_is_skipped(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor
) -> None:
    url, vendor = start_vendor()
    settings = delivery_settings(url)
    paused = launch(database, redis_client, settings, features(3)).campaign_id
    cancelled = launch(database, redis_client, settings, features(2, first_id=10)).campaign_id
    pause_campaign(database, paused)
    cancel_campaign(database, cancelled)

    report = send_all(database, redis_client, settings)

    assert (report.requeued, report.skipped, stats(vendor)["sent"]) == (3, 2, 0)
    assert {row["status"] for row in log_rows(database, paused)} == {"pending"}
    assert {(row["status"], row["reason"]) for row in log_rows(database, cancelled)} == {
        ("skipped", "campaign cancelled")
    }
    resume_campaign(database, paused)
    assert housekeeping(database, redis_client, settings).released == 3
    assert send_all(database, redis_client, settings).sent == 3
    assert {row["status"] for row in log_rows(database, paused)} == {"sent"}


def test_a_sender_holding_a_stale_paused_status_leaves_nothing_stranded_by_a_cancel(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, vendor = start_vendor()
    settings = delivery_settings(url)
    campaign_id = launch(database, redis_client, settings, features(3)).campaign_id
    pause_campaign(database, campaign_id)

    async def seen_before_the_cancel(self: Sender, campaign_id: int) -> str:
        return "paused"  # what the sender read a moment ago

    monkeypatch.setattr(Sender, "_campaign_status", seen_before_the_cancel)
    cancel_campaign(database, campaign_id)  # commits between that read and what the sender does with it
    report = send_all(database, redis_client, settings)

    assert (report.requeued, report.skipped, stats(vendor)["sent"]) == (0, 3, 0)
    assert {(row["status"], row["reason"]) for row in log_rows(database, campaign_id)} == {
        ("skipped", "campaign cancelled")
    }


def test_senders_side_by_side_share_the_stream_and_send_each_message_once(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor
) -> None:
    url, vendor = start_vendor(Faults(latency_ms=50))
    settings = delivery_settings(url, delivery_batch_size=25, delivery_concurrency=2)
    launch(database, redis_client, settings, features(1200))

    async def three_senders() -> list[SenderReport]:
        return await asyncio.gather(
            *(run_sender(database, redis_client, settings, consumer=f"s{n}", until_idle=True) for n in range(3))
        )

    reports = asyncio.run(three_senders())

    assert sum(report.sent for report in reports) == 1200
    assert all(report.sent > 0 for report in reports)
    assert stats(vendor)["sent"] == 1200


def test_a_request_slower_than_the_claim_timeout_keeps_its_entry_from_another_sender(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor
) -> None:
    url, vendor = start_vendor(Faults(latency_ms=1_500))  # five claim timeouts
    settings = delivery_settings(url, delivery_batch_size=100, delivery_claim_idle_ms=300)
    launch(database, redis_client, settings, features(100))
    stream = settings.stream(STREAM)
    streams.ensure_group(redis_client, stream, GROUP)

    def held_by(consumer: str) -> bool:
        pending: Any = redis_client.xpending_range(stream, GROUP, "-", "+", 10)
        return [row["consumer"] for row in pending] == [consumer.encode()]

    async def a_second_sender_while_the_first_waits() -> tuple[SenderReport, SenderReport]:
        first = asyncio.create_task(run_sender(database, redis_client, settings, consumer="slow", until_idle=True))
        deadline = time.monotonic() + 10
        while not held_by("slow"):
            assert time.monotonic() < deadline, "the first sender never took the entry"
            await asyncio.sleep(0.01)
        stop = asyncio.Event()
        second = asyncio.create_task(run_sender(database, redis_client, settings, consumer="second", stop=stop))
        slow = await first
        stop.set()
        return slow, await second

    slow, second = asyncio.run(a_second_sender_while_the_first_waits())

    assert (slow.sent, second.sent, second.reclaimed) == (100, 0, 0)
    assert (stats(vendor)["sent"], stats(vendor)["duplicates_suppressed"]) == (100, 0)


def test_the_rate_limit_paces_all_senders(database: Engine, redis_client: redis.Redis, start_vendor: Vendor) -> None:
    url, _ = start_vendor()
    settings = delivery_settings(url, delivery_rate_limit=400, delivery_batch_size=50)
    launch(database, redis_client, settings, features(1000))

    started = time.monotonic()
    report = send_all(database, redis_client, settings)

    # a second's worth (and the batch that fills it) may go at once; the last batch may go 1.375 s later
    assert time.monotonic() - started >= 1.3
    assert report.sent == 1000
    assert report.rate_limited_s > 0


def test_a_channel_s_own_rate_limit_paces_it_below_the_overall_one(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor
) -> None:
    url, _ = start_vendor()
    settings = delivery_settings(url, delivery_batch_size=50, channel_rate_limits={"sms": 200})
    launch(database, redis_client, settings, features(400))

    started = time.monotonic()
    report = send_all(database, redis_client, settings)

    # a second's worth (and the batch that fills it) may go at once; the rest at 200 a second
    assert time.monotonic() - started >= 0.7
    assert report.sent == 400
    assert report.rate_limited_s > 0


def test_backoff_grows_with_jitter_and_honours_retry_after() -> None:
    settings = delivery_settings(delivery_backoff_s=0.1, delivery_backoff_max_s=1.0)

    waits = [backoff_seconds(attempt, settings) for attempt in (1, 2, 3, 8)]

    assert [
        (low <= wait <= high)
        for wait, (low, high) in zip(waits, [(0.05, 0.1), (0.1, 0.2), (0.2, 0.4), (0.5, 1)], strict=True)
    ] == [True] * 4
    assert backoff_seconds(1, settings, retry_after=3.0) == 3.0
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 28 <= retry_after_seconds(format_datetime(later, usegmt=True)) <= 30
    assert (retry_after_seconds("7"), retry_after_seconds(None), retry_after_seconds("soon")) == (7.0, 0.0, 0.0)


def test_an_entry_that_is_not_a_delivery_entry_is_logged_with_its_body_and_acknowledged(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor, caplog: pytest.LogCaptureFixture
) -> None:
    url, vendor = start_vendor()
    settings = delivery_settings(url, delivery_claim_idle_ms=50)
    stream = settings.stream(STREAM)
    streams.publish(redis_client, stream, {"campaign_id": 1, "channel": "sms"})  # no messages
    streams.publish(redis_client, stream, {"campaign_id": 1, "channel": "sms", "messages": [[1, "k1"]]})
    redis_client.xadd(stream, {streams.PAYLOAD: b"{not json"})
    campaign_id = launch(database, redis_client, settings, features(3)).campaign_id

    with caplog.at_level(logging.ERROR, logger="engine.campaigns.sender"):
        report = send_all(database, redis_client, settings)

    assert streams.backlog(redis_client, stream, GROUP) == streams.Backlog(0, 0)
    assert {row["status"] for row in log_rows(database, campaign_id)} == {"sent"}
    assert (report.dropped, report.sent, stats(vendor)["sent"]) == (3, 3, 3)
    logged = "\n".join(record.getMessage() for record in caplog.records if "dropping" in record.getMessage())
    assert all(body in logged for body in ('"channel":"sms"}', '[[1,"k1"]]', "{not json"))


def vendor_answering(answer: bytes) -> tuple[ASGIApp, list[bytes]]:
    """A vendor that takes every batch and answers it 200 with `answer`; and the bodies it was posted."""
    posted: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        posted.append(await request.body())
        await Response(answer, status_code=200, media_type="application/json")(scope, receive, send)

    return app, posted


@pytest.mark.parametrize(
    "answer",
    [b'{"accepted": 2}', b'{"messages": [{"vendor_message_id": "vm_1"}]}', b"accepted"],
    ids=["without results", "with fewer results", "not JSON"],
)
def test_a_vendor_answer_without_each_result_is_posted_again_then_fails_its_messages_to_be_retried(
    database: Engine, redis_client: redis.Redis, answer: bytes
) -> None:
    app, posted = vendor_answering(answer)
    with serve(app) as url:
        settings = delivery_settings(url, delivery_claim_idle_ms=50)
        campaign_id = launch(database, redis_client, settings, features(2)).campaign_id

        report = send_until(database, redis_client, settings, lambda: streams.backlog(
            redis_client, settings.stream(STREAM), GROUP) == streams.Backlog(0, 0))  # fmt: skip

    assert len(posted) == streams.MAX_DELIVERIES
    assert len(set(posted)) == 1  # posted again under the same keys
    assert (report.given_up, report.failed, report.sent) == (1, 2, 0)
    fates = {(row["status"], row["failure_kind"], row["vendor_message_id"]) for row in log_rows(database, campaign_id)}
    assert fates == {("failed", "transient", None)}
    assert log_rows(database, campaign_id)[0]["reason"] == (
        "the vendor did not accept it after 3 tries of its batch (none read the vendor's answer; given up on)"
    )
    assert streams.backlog(redis_client, settings.stream(STREAM), GROUP) == streams.Backlog(0, 0)


def test_postgres_out_of_reach_while_sending_does_not_make_an_entry_poison(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, vendor = start_vendor()
    settings = delivery_settings(url, delivery_claim_idle_ms=50)
    campaign_id = launch(database, redis_client, settings, features(3)).campaign_id
    outage: list[int] = []
    read_status = Sender._read_status

    def status_after_an_outage(self: Sender, campaign_id: int) -> str | None:
        if len(outage) <= 2 * streams.MAX_DELIVERIES:
            outage.append(1)
            raise OperationalError("SELECT status", {}, Exception("connection refused"))
        return read_status(self, campaign_id)

    monkeypatch.setattr(Sender, "_read_status", status_after_an_outage)
    report = send_until(database, redis_client, settings, lambda: streams.backlog(
        redis_client, settings.stream(STREAM), GROUP) == streams.Backlog(0, 0))  # fmt: skip

    assert {row["status"] for row in log_rows(database, campaign_id)} == {"sent"}
    assert (report.sent, report.given_up, stats(vendor)["sent"]) == (3, 0, 3)


def test_entries_in_flight_are_finished_when_reading_the_next_ones_fails(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, vendor = start_vendor(Faults(latency_ms=300))
    settings = delivery_settings(url)
    campaign_id = launch(database, redis_client, settings, features(3)).campaign_id
    reads: list[int] = []
    next_batch = streams.StreamConsumer.next_batch

    def redis_gone_after_the_first_read(self: streams.StreamConsumer, *args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        if len(reads) > 1:
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        return next_batch(self, *args, **kwargs)

    monkeypatch.setattr(streams.StreamConsumer, "next_batch", redis_gone_after_the_first_read)
    with pytest.raises(redis.ConnectionError):
        send_all(database, redis_client, settings)

    assert {row["status"] for row in log_rows(database, campaign_id)} == {"sent"}
    assert streams.backlog(redis_client, settings.stream(STREAM), GROUP) == streams.Backlog(0, 0)
    assert stats(vendor)["sent"] == 3
