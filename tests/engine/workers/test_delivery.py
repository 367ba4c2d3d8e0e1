"""The delivery worker records notifications on its own, beside its housekeeping, survives a part that fails, and
composes domains that do not import each other."""

from __future__ import annotations

import ast
import asyncio
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from engine import streams
from engine.campaigns.progress import get_campaign
from engine.campaigns.receipts import STREAM as RECEIPTS
from engine.notifications.outbound import WebhookReport, post_due_webhooks
from engine.notifications.watch import watch_once
from engine.settings import get_settings
from engine.workers import delivery as worker
from tests.engine.campaigns.helpers import NOON, delivery_settings, features, launch, log_rows
from tests.engine.notifications.helpers import AFTER, completed_campaign, receiving, webhook_settings


def clock_from(start: datetime) -> Callable[[], datetime]:
    """A clock that reads `start` now and runs on from there (the campaigns of these tests finished at a fixed
    time; the worker must see them as recent news whatever today's date)."""
    began = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - began)


def test_the_delivery_worker_announces_a_completed_campaign(
    database: Engine, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = get_settings()
    campaign_id = completed_campaign(database, redis_client, settings, delivered=2, failed=0)
    monkeypatch.setattr(worker, "NOTIFY_INTERVAL_S", 0.1)

    def announced() -> list[int]:
        with database.connect() as conn:
            return list(conn.scalars(text("SELECT campaign_id FROM notifications WHERE kind = 'campaign_completed'")))

    async def run_worker_until_announced() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(
            worker.serve(settings, consumer="tests", parts=["notifications"], stop=stop, clock=clock_from(AFTER))
        )
        deadline = time.monotonic() + 30
        while not announced() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stop.set()
        await running

    asyncio.run(run_worker_until_announced())

    assert announced() == [campaign_id]


def test_a_webhook_posted_after_a_slow_scan_is_not_posted_again_by_a_second_worker_meanwhile(
    database: Engine, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    lease_s = 1.0  # twice the request timeout
    clock = clock_from(AFTER)
    second_worker_rounds: list[WebhookReport] = []
    first_request = threading.Lock()

    def second_worker_round() -> None:  # while the first request runs, once
        if first_request.acquire(blocking=False):
            second_worker_rounds.append(post_due_webhooks(database, settings, clock()))

    def slow_scan(*args: Any, **kwargs: Any) -> list[int]:
        recorded = watch_once(*args, **kwargs)
        time.sleep(lease_s + 0.5)  # counting large logs can outlast a lease timed from the scan's start
        return recorded

    with receiving(while_posting=second_worker_round) as receiver:
        settings = webhook_settings(receiver.url, notify_webhook_timeout_s=lease_s / 2)
        completed_campaign(database, redis_client, settings, delivered=2, failed=0)
        monkeypatch.setattr(worker, "NOTIFY_INTERVAL_S", 0.1)
        monkeypatch.setattr(worker, "watch_once", slow_scan)

        async def run_worker_until_posted() -> None:
            stop = asyncio.Event()
            running = asyncio.create_task(
                worker.serve(settings, consumer="tests", parts=["notifications", "webhooks"], stop=stop, clock=clock)
            )
            deadline = time.monotonic() + 30
            while not receiver.requests and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            stop.set()
            await running

        asyncio.run(run_worker_until_posted())

    assert [report.delivered for report in second_worker_rounds] == [0]
    assert len(receiver.requests) == 1


def test_a_part_that_fails_is_run_again_and_the_other_parts_keep_running(
    database: Engine, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = delivery_settings()
    campaign_id = launch(database, redis_client, settings, features(2)).campaign_id
    blips: list[str] = []
    real_housekeeping = worker.housekeeping

    def housekeeping_after_two_blips(*args: Any) -> worker.Housekeeping:
        if len(blips) < 2:
            blips.append("Postgres went away")
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
        return real_housekeeping(*args)

    monkeypatch.setattr(worker, "RESTART_FIRST_S", 0.05)
    monkeypatch.setattr(worker, "HOUSEKEEPING_INTERVAL_S", 0.05)
    monkeypatch.setattr(worker, "housekeeping", housekeeping_after_two_blips)
    delivered = [
        {"vendor_message_id": f"vm_{row['id']}", "reference": row["id"], "status": "delivered",
         "occurred_at": "2026-11-25T12:00:01Z"}
        for row in log_rows(database, campaign_id)
    ]  # fmt: skip
    streams.publish(redis_client, settings.stream(RECEIPTS), delivered)

    async def run_worker_until_completed() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(
            worker.serve(settings, consumer="tests", parts=["receipts", "housekeeping"], stop=stop,
                         clock=clock_from(NOON + timedelta(minutes=1)))
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while get_campaign(database, campaign_id).status != "completed" and time.monotonic() < deadline:
            assert not running.done(), "the worker stopped"
            await asyncio.sleep(0.05)
        stop.set()
        await running

    asyncio.run(run_worker_until_completed())

    assert len(blips) == 2
    assert {row["status"] for row in log_rows(database, campaign_id)} == {"delivered"}
    assert get_campaign(database, campaign_id).status == "completed"


def test_campaigns_does_not_import_notifications_nor_the_workers() -> None:
    """The worker composes the domains; campaigns depends on neither it nor notifications (which reads campaigns)."""
    root = Path(__file__).resolve().parents[3] / "engine" / "campaigns"
    imported = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    assert not {name for name in imported if name.startswith(("engine.notifications", "engine.workers"))}
