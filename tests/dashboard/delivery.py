"""Campaigns really sent in dashboard tests: the vendor simulator on loopback posting signed receipts to the
API, and either one campaign launched and delivered to the end (`deliver`, for `AppTest`) or a delivery
worker and a launcher of due campaigns running in the background (`delivery_running`, for the browser).

Nothing is faked below the vendor: launch evaluates the segment on the published snapshot, the sender
posts to the simulator, receipts come back through the API's webhook and the receipts stream.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import redis
from sqlalchemy import Engine

from api.vendor.app import create_app
from api.vendor.config import Faults, VendorConfig
from engine.campaigns.audience import PublishedAudience
from engine.campaigns.launch import LaunchReport, due_campaigns, launch_campaign
from engine.campaigns.sender import run_sender
from engine.settings import Settings
from engine.webhooks import generate_secret
from engine.workers.delivery import serve as serve_worker
from tests.api.vendor.loopback import serve
from tests.e2e.test_delivery import settle
from tests.engine.campaigns.helpers import delivery_settings, receipts_secret

LAUNCH_EVERY_S = 0.2


@dataclass(frozen=True)
class Vendor:
    """The simulator on loopback, a client of its admin routes, and delivery settings pointed at it."""

    url: str
    client: httpx.Client
    settings: Settings


@contextmanager
def vendor(api_url: str, failure_rate: float = 0.0, receipt_delay_ms: float = 50) -> Iterator[Vendor]:
    """The vendor simulator posting receipts to the API at `api_url`, both holding the same webhook secret;
    `failure_rate` of the messages fail to arrive (which ones is fixed by the seed)."""
    secret = generate_secret()
    faults = Faults(failure_rate=failure_rate, receipt_delay_ms=receipt_delay_ms)
    config = VendorConfig(
        callback_url=f"{api_url}/v1/receipts", webhook_secret=secret, seed=7, receipt_backoff_s=0.05, faults=faults
    )
    with receipts_secret(secret), serve(create_app(config)) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield Vendor(url, client, delivery_settings(url))


def deliver(db: Engine, client: redis.Redis, vendor: Vendor, campaign_id: int) -> LaunchReport:
    """Launch the scheduled campaign on the published snapshot, send every message, and apply every receipt."""
    report = launch_campaign(db, client, vendor.settings, campaign_id, PublishedAudience(db))
    asyncio.run(run_sender(db, client, vendor.settings, consumer="tests", until_idle=True))
    settle(db, client, vendor.settings, vendor.client, report.queued)
    return report


def launch_due(db: Engine, client: redis.Redis, settings: Settings) -> list[LaunchReport]:
    """Launch the campaigns whose time has come, as the Dagster sensor does in the product."""
    audience = PublishedAudience(db)
    return [
        launch_campaign(db, client, settings, due.campaign_id, audience) for due in due_campaigns(db, datetime.now(UTC))
    ]


@contextmanager
def delivery_running(db: Engine, client: redis.Redis, vendor: Vendor) -> Iterator[None]:
    """In background threads: a launcher of due campaigns and the delivery worker (sender, receipts applier,
    housekeeping), as `xeno up` runs them; both stopped on leaving."""
    stop = threading.Event()

    def launcher() -> None:
        while not stop.wait(LAUNCH_EVERY_S):
            launch_due(db, client, vendor.settings)

    async def worker() -> None:
        halt = asyncio.Event()

        async def halt_on_stop() -> None:
            await asyncio.to_thread(stop.wait)
            halt.set()

        await asyncio.gather(serve_worker(vendor.settings, consumer="dashboard-tests", stop=halt), halt_on_stop())

    threads = [threading.Thread(target=launcher), threading.Thread(target=asyncio.run, args=(worker(),))]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
