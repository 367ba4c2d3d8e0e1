"""What the API answered 202 for survives Redis being killed and restarted (append-only persistence)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api.main import create_app
from engine.connections import reset_connections
from engine.services.embedded import EmbeddedRedis
from engine.services.supervisor import Supervisor, free_port
from engine.settings import get_settings
from tests.fixtures.api import drain_ingest_stream


@pytest.fixture
def own_redis(tmp_path: Path, database: Engine) -> Iterator[EmbeddedRedis]:
    """A Redis of the test's own, persistent, that the settings point at while the test runs."""
    server = EmbeddedRedis(tmp_path / "redis", free_port())
    saved = os.environ["REDIS_URL"]
    os.environ["REDIS_URL"] = server.url
    get_settings.cache_clear()
    reset_connections()
    yield server
    os.environ["REDIS_URL"] = saved
    get_settings.cache_clear()
    reset_connections()


def test_accepted_customers_survive_a_redis_crash_and_restart(
    own_redis: EmbeddedRedis, write_key: str, database: Engine
) -> None:
    first = Supervisor()
    first.start(own_redis.prepare())
    with TestClient(create_app()) as client:
        for n in range(20):
            batch = [{"external_id": f"c-{n}-{i}", "city": "Goa"} for i in range(50)]
            answer = client.post("/v1/customers", json=batch, headers={"Authorization": f"Bearer {write_key}"})
            assert answer.status_code == 202

    os.kill(first.pids[0], signal.SIGKILL)  # a crash, not a clean shutdown
    first.stop_all()
    reset_connections()

    second = Supervisor()
    second.start(own_redis.prepare())
    try:
        report = drain_ingest_stream()
    finally:
        reset_connections()
        second.stop_all()
    assert report.applied == 1000
    with database.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM customers WHERE city = 'Goa'")).scalar_one() == 1000
