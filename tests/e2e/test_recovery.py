"""The product heals across a restart: `xeno up` cut off while an ingest run executes (the machine crashed, every
process killed) used to leave that run STARTED in Dagster's storage for ever, so after the next `xeno up` the sensor
skipped every tick ("already draining") and nothing was ingested again. Now run monitoring fails the dead run, the
sensor starts another, and the entries the dead run had taken are applied, once."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import redis
from sqlalchemy import Engine, text

from engine import streams
from engine.ingest.consumer import GROUP
from engine.ingest.records import empty_batch
from engine.operations.runs import recent_runs
from engine.settings import get_settings
from tests.e2e.test_xeno_up import RunningProduct, xeno_up
from tests.fixtures.services import SESSION_TAG

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # two `xeno up` starts: minutes on a loaded machine

RUNS = "{ runsOrError(limit: 20) { ... on Runs { results { runId jobName status } } } }"


def ingest_runs(product: RunningProduct) -> list[dict[str, Any]]:
    answer = httpx.post(f"{product.dagster_url}/graphql", json={"query": RUNS}, timeout=30).json()
    return [run for run in answer["data"]["runsOrError"]["results"] if run["jobName"] == "ingest_stream_job"]


def wait_for(condition: Any, what: str, product: RunningProduct, timeout_s: float = 240) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n" + "".join(product.output[-80:])
        time.sleep(1)
    return found


def test_an_ingest_run_cut_off_by_a_crash_is_failed_after_the_restart_and_its_entries_are_applied(
    tmp_path: Path, service_urls: tuple[str, str], database: Engine, redis_client: redis.Redis
) -> None:
    database_url, redis_url = service_urls
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DAGSTER_DATABASE": f"{SESSION_TAG}_dagster",
        "INGEST_CLAIM_IDLE_MS": "3000",  # the dead run's entries are taken over 3 s after its last keep-alive
        "XENO_PIPELINE_RETRY_BACKOFF_S": "1",
    }
    batch = empty_batch()
    batch["customers"] = [{"external_id": f"cut-{n}", "ts": "2026-11-25T00:00:00+00:00"} for n in range(50)]
    stream = get_settings().stream("ingest")
    client = redis_client
    with database.connect() as blocker:
        blocker.execute(text("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE"))  # the run takes the entries, and waits
        with xeno_up(tmp_path, env) as product:
            streams.publish(client, stream, batch)
            [run] = wait_for(
                lambda: [r for r in ingest_runs(product) if r["status"] == "STARTED"], "an ingest run", product
            )
            wait_for(lambda: streams.backlog(client, stream, GROUP).pending == 1, "the run to take the entry", product)
            before = {r["runId"] for r in ingest_runs(product)}
            crash(product)
        blocker.rollback()

    with xeno_up(tmp_path, env) as product:
        wait_for(lambda: count_customers(database) == 50, "the cut-off entry to be applied", product)
        wait_for(lambda: streams.backlog(client, stream, GROUP) == streams.Backlog(0, 0), "the entry's ack", product)
        # The next run applied them and goes on following the stream (it ends after a minute without entries).
        wait_for(lambda: {"STARTED", "SUCCESS"} & statuses_since(product, before), "the next run", product)
        recent = recent_runs(get_settings().model_copy(update={"dagster_url": product.dagster_url}))
        [dead] = [summary for summary in recent.runs if summary.run_id == run["runId"]]
        assert dead.status == "FAILURE"
        assert "that ran it is gone" in (dead.reason or "")


def statuses_since(product: RunningProduct, before: set[str]) -> set[str]:
    """The statuses of the ingest runs that were not there `before`."""
    return {run["status"] for run in ingest_runs(product) if run["runId"] not in before}


def crash(product: RunningProduct) -> None:
    """Every process of the product killed at once, as when the machine loses power: nothing gets to clean up."""
    processes = [psutil.Process(product.process.pid), *product.descendants()]
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(processes, timeout=30)


def count_customers(database: Engine) -> int:
    with database.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM customers")).scalar_one())
