"""The delivery worker records notifications on its own, beside its housekeeping."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis
from sqlalchemy import Engine, text

from engine.campaigns import worker
from engine.settings import get_settings
from tests.engine.notifications.helpers import completed_campaign


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
        running = asyncio.create_task(worker.serve(settings, consumer="tests", parts=["housekeeping"], stop=stop))
        deadline = time.monotonic() + 30
        while not announced() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stop.set()
        await running

    asyncio.run(run_worker_until_announced())

    assert announced() == [campaign_id]
