"""AI queue jobs whose handler kills the worker process: the job is taken over once the dead worker's claim runs
out, and after three such deaths it is marked failed instead of killing workers forever."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine

from engine.ai import queue
from engine.ai.jobs import HANDLERS
from engine.settings import get_settings
from tests.api.vendor.loopback import wait_until

ROOT = Path(__file__).resolve().parents[3]
CLAIM_IDLE_MS = 1_000

# A worker that works the queue until a job kills it (kill -9, as an out-of-memory kill would), or 30 s pass.
WORKER = f"""
import os, signal, sys, time
from engine.ai import queue
from engine.ai.jobs import HANDLERS
from engine.connections import get_engine, get_redis
from engine.settings import get_settings

queue.CLAIM_IDLE_MS = {CLAIM_IDLE_MS}
handlers = {{**HANDLERS, "crash": lambda *args: os.kill(os.getpid(), signal.SIGKILL)}}
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    queue.work_once(get_engine(), get_redis(), get_settings(), handlers, consumer=sys.argv[1], block_ms=100)
"""


def killed_worker(name: str, log: Path) -> None:
    """Run a worker process until a job kills it."""
    with log.open("ab") as output:
        worker = subprocess.run([sys.executable, "-c", WORKER, name], cwd=ROOT, stdout=output, stderr=output)
    assert worker.returncode == -signal.SIGKILL, log.read_text()


def test_a_job_that_kills_its_worker_is_retried_by_the_next_and_failed_after_three_deaths(
    database: Engine, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = get_settings()

    def job(job_id: str) -> queue.Job:
        found = queue.get_job(redis_client, settings, job_id)
        assert found is not None
        return found

    crashing = queue.enqueue(redis_client, settings, "crash", {}, None).id
    behind = queue.enqueue(redis_client, settings, "image", {"message": "ok", "width": 256, "height": 256}, None).id

    for name in ("first", "second", "third"):  # each takes the job (the later ones once it is idle) and dies
        killed_worker(name, tmp_path / "workers.log")
    assert job(crashing).status == "running"

    monkeypatch.setattr(queue, "CLAIM_IDLE_MS", CLAIM_IDLE_MS)

    def given_up() -> bool:
        queue.work_once(database, redis_client, settings, HANDLERS, consumer="survivor")
        return job(crashing).status == "failed"

    wait_until(given_up, lambda: job(crashing))
    queue.work_once(database, redis_client, settings, HANDLERS, consumer="survivor")

    assert job(crashing).error == "the job was started 3 times and its worker stopped each time before it finished"
    assert job(behind).status == "done"
    assert redis_client.xlen(settings.stream(queue.STREAM)) == 0
