"""The delivery worker: one long-lived process running a sender, the receipts applier, housekeeping, the
notification scan, the notification webhooks and the receipt reconciler.

`xeno up` starts one; more can run side by side (on this machine or others), since senders and appliers
share their streams through consumer groups and housekeeping locks what it takes. Housekeeping, every
second: queue the messages whose wait is over (quiet hours ended, campaign resumed), and complete the
campaigns whose messages are all final. Notifications, every ten seconds: record them (`engine.notifications`,
counting sending campaigns' failures at most once a minute); webhooks, every ten seconds: post the ones due. The
reconciler, every `receipt_reconcile_every_s`: ask the vendor about messages whose receipts never came
(`engine.campaigns.reconcile`). SIGTERM or SIGINT stops it after the requests in flight finish.

Each part is one named async loop in `PARTS`; a new one is one more entry there. A part that raises (Postgres or
Redis out of reach a moment) is logged and run again after a backoff, on its own: the other parts, and the
sender's requests in flight, carry on (`_keep_running`).
The README ("Who runs what, and why") says why this is a worker and not a Dagster job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Collection, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy import Engine

from engine.campaigns.progress import complete_finished_campaigns
from engine.campaigns.queue import queue_due_messages
from engine.campaigns.receipts import ReceiptReport, drain_receipts
from engine.campaigns.reconcile import Reconciler
from engine.campaigns.sender import run_sender
from engine.connections import get_engine, get_redis
from engine.notifications.outbound import post_due_webhooks
from engine.notifications.watch import watch_once
from engine.settings import Settings, get_settings
from engine.streams import default_consumer_name

log = logging.getLogger(__name__)

HOUSEKEEPING_INTERVAL_S = 1.0
NOTIFY_INTERVAL_S = 10.0
FAILURE_COUNT_INTERVAL_S = 60.0  # how often a sending campaign's messages are counted for failures
RECEIPTS_BLOCK_MS = 500
RESTART_FIRST_S = 1.0  # a failed part runs again after this, doubling on each failure in a row ...
RESTART_MAX_S = 30.0  # ... up to this
CLEAN_RUN_S = 60.0  # a part that ran this long before failing waits RESTART_FIRST_S again


@dataclass(frozen=True)
class Worker:
    """What every part of one worker process shares: connections, settings, its consumer name and its stop."""

    db: Engine
    client: redis.Redis
    settings: Settings
    consumer: str
    stop: asyncio.Event
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # what time it is (tests set their own)

    async def stopped(self, seconds: float) -> bool:
        """Wait up to `seconds` for the stop; say whether it came."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)
        return self.stop.is_set()


@dataclass(frozen=True)
class Housekeeping:
    released: int
    completed: list[int]


def housekeeping(db: Engine, client: redis.Redis, settings: Settings, now: datetime | None = None) -> Housekeeping:
    """Queue the messages whose wait is over and complete the finished campaigns, once."""
    moment = now or datetime.now(UTC)
    released = queue_due_messages(db, client, settings, moment)
    return Housekeeping(released, complete_finished_campaigns(db, settings, moment))


async def _send(worker: Worker) -> None:
    report = await run_sender(worker.db, worker.client, worker.settings, consumer=worker.consumer, stop=worker.stop)
    log.info("sender stopped: %s", report)


async def _apply_receipts(worker: Worker) -> None:
    total = ReceiptReport()
    while not worker.stop.is_set():
        report = await asyncio.to_thread(
            drain_receipts, worker.db, worker.client, worker.settings, worker.consumer,
            max_batches=20, block_ms=RECEIPTS_BLOCK_MS,
        )  # fmt: skip
        if report.receipts:
            total.add(report)
            log.info("receipts: %d applied in this round, %d log rows changed in all", report.receipts, total.changed)


async def _keep_house(worker: Worker) -> None:
    while not await worker.stopped(HOUSEKEEPING_INTERVAL_S):
        done = await asyncio.to_thread(housekeeping, worker.db, worker.client, worker.settings, worker.clock())
        if done.released:
            log.info("queued %d messages whose wait is over", done.released)
        for campaign_id in done.completed:
            log.info("campaign %d completed", campaign_id)


async def _notify(worker: Worker) -> None:
    """Scan for notifications every ten seconds, counting sending campaigns at most once a minute."""
    next_count = 0.0
    while not await worker.stopped(NOTIFY_INTERVAL_S):
        count_sending = time.monotonic() >= next_count
        recorded = await asyncio.to_thread(
            watch_once, worker.db, worker.settings, worker.clock(), count_sending=count_sending
        )
        if count_sending:
            next_count = time.monotonic() + FAILURE_COUNT_INTERVAL_S
        if recorded:
            log.info("notifications: %d recorded", len(recorded))


async def _post_webhooks(worker: Worker) -> None:
    """Post the notification webhooks due, every ten seconds. A part of its own, so a failing scan does not hold
    them back (nor the other way round), and each round's leases are timed from a clock read as it starts."""
    while not await worker.stopped(NOTIFY_INTERVAL_S):
        posted = await asyncio.to_thread(
            post_due_webhooks, worker.db, worker.settings, worker.clock(), NOTIFY_INTERVAL_S
        )
        if posted.delivered or posted.gave_up:
            log.info("notification webhooks: %s", posted)


async def _reconcile(worker: Worker) -> None:
    """Every `receipt_reconcile_every_s`, ask the vendor about messages whose receipts never came."""
    async with Reconciler(worker.db, worker.client, worker.settings) as reconciler:
        while not await worker.stopped(worker.settings.receipt_reconcile_every_s):
            report = await reconciler.reconcile_once(worker.clock())
            if report.asked:
                log.info("receipt reconciliation: %s", report)


Part = Callable[[Worker], Coroutine[Any, Any, None]]

PARTS: dict[str, Part] = {
    "sender": _send,
    "receipts": _apply_receipts,
    "housekeeping": _keep_house,
    "notifications": _notify,
    "webhooks": _post_webhooks,
    "reconciler": _reconcile,
}


async def _keep_running(name: str, part: Part, worker: Worker) -> None:
    """Run `part` until the stop. When it raises, log why and run it again after `RESTART_FIRST_S`, doubling while
    it keeps failing, up to `RESTART_MAX_S` (and from `RESTART_FIRST_S` again once it ran `CLEAN_RUN_S`): one
    failure must stop neither it for good nor the other parts (whose stream entries would stall meanwhile)."""
    wait = RESTART_FIRST_S
    while not worker.stop.is_set():
        started = time.monotonic()
        try:
            await part(worker)
            return
        except Exception:
            if time.monotonic() - started >= CLEAN_RUN_S:
                wait = RESTART_FIRST_S
            log.exception("delivery worker part %s failed; running it again in %.1f s", name, wait)
        if await worker.stopped(wait):
            return
        wait = min(wait * 2, RESTART_MAX_S)


async def serve(
    settings: Settings,
    *,
    consumer: str,
    parts: Collection[str] = tuple(PARTS),
    stop: asyncio.Event | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """Run the chosen parts until `stop` is set (or SIGTERM / SIGINT, when run as the main thread), at the time
    `clock` tells."""
    worker = Worker(get_engine(), get_redis(), settings, consumer, stop or asyncio.Event(), clock)
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, worker.stop.set)
    chosen = [name for name in PARTS if name in parts]
    log.info("delivery worker %s running: %s", consumer, ", ".join(chosen))
    await asyncio.gather(*(_keep_running(name, PARTS[name], worker) for name in chosen))


def run_worker(parts: Collection[str] = tuple(PARTS), consumer: str | None = None) -> None:
    """The delivery worker's entry point (`xeno deliver`): blocks until SIGTERM or SIGINT."""
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown worker parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    asyncio.run(serve(get_settings(), consumer=consumer or default_consumer_name(), parts=parts))
