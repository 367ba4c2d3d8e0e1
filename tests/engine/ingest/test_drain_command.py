"""`xeno ingest drain` applies what waits on the ingest stream and says what became of it."""

from __future__ import annotations

import redis
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from engine import streams
from engine.cli import app
from engine.ingest.records import empty_batch
from engine.settings import get_settings


def publish_customers(client: redis.Redis, *external_ids: str) -> None:
    batch = empty_batch()
    batch["customers"] = [{"external_id": e, "city": "Agra", "ts": "2026-11-25T00:00:00+00:00"} for e in external_ids]
    streams.publish(client, get_settings().stream("ingest"), batch)


def test_drain_applies_the_backlog_and_counts_applied_duplicates_dead_letters_and_erased(
    database: Engine, redis_client: redis.Redis
) -> None:
    publish_customers(redis_client, "a", "b", "c")
    publish_customers(redis_client, "a")

    result = CliRunner().invoke(app, ["ingest", "drain"])

    assert result.exit_code == 0, result.output
    assert "applied 3, duplicates 1, dead-lettered 0, dropped for erased customers 0" in result.stdout
    with database.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM customers")).scalar_one() == 3
