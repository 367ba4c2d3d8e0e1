"""`xeno status` tells an operator what `xeno up` runs (from its state file) and what waits in Redis and Postgres,
as text or JSON, and says plainly what it cannot read."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, insert
from typer.testing import CliRunner

from engine.cli import app
from engine.schema import feature_snapshots, ingest_dead_letters
from engine.services.restarts import RestartPolicy
from engine.services.state import running_here
from engine.services.supervisor import ServiceSpec, Supervisor, free_port
from engine.settings import Settings, get_settings
from tests.pipelines.helpers import fail_an_ingest_run, launches_in_trouble

SLEEPER = [sys.executable, "-c", "import time\nwhile True: time.sleep(1)"]


def xeno_status(*args: str) -> str:
    result = CliRunner().invoke(app, ["status", *args])
    assert result.exit_code == 0, result.output
    return result.stdout  # what a pipe reads (`xeno status --json | jq`); log lines go to stderr


def test_status_shows_each_process_with_its_state_pid_uptime_restarts_and_last_exit(
    data_dir: Path, database: Engine, redis_client: redis.Redis
) -> None:
    supervisor = Supervisor(io.StringIO(), RestartPolicy(first_delay_s=0.1), state_dir=data_dir)
    with running_here(data_dir):
        try:
            supervisor.start(ServiceSpec("api", SLEEPER))
            supervisor.start(ServiceSpec("deliver", SLEEPER))
            killed = supervisor.pids[1]
            os.kill(killed, signal.SIGKILL)
            deadline = time.monotonic() + 20
            while not (supervisor.pids[1] != killed and supervisor.states()[1].state == "ready"):
                assert time.monotonic() < deadline, "deliver was not restarted"
                time.sleep(0.05)

            text, document = xeno_status(), json.loads(xeno_status("--json"))
        finally:
            supervisor.stop_all()

    assert f"xeno up is running (pid {os.getpid()})" in text
    deliver_row = next(line for line in text.splitlines() if line.startswith("deliver"))
    assert re.match(rf"deliver\s+ready\s+{supervisor.pids[1]}\s+\d+s\s+1\s+killed by SIGKILL, \d+s ago$", deliver_row)
    assert document["up"]["running"] is True
    deliver = document["up"]["processes"][1]
    assert (deliver["name"], deliver["state"], deliver["restarts"], deliver["last_exit"]) == (
        "deliver", "ready", 1, "killed by SIGKILL",
    )  # fmt: skip
    assert deliver["pid"] == supervisor.pids[1]
    assert deliver["uptime_s"] >= 0


def test_status_without_xeno_up_says_so_and_still_shows_lags_dead_letters_and_the_snapshot(
    data_dir: Path, database: Engine, redis_client: redis.Redis
) -> None:
    settings = get_settings()
    two_minutes_ago = int((time.time() - 120) * 1000)
    redis_client.xadd(settings.stream("ingest"), {"kind": "customer"}, id=f"{two_minutes_ago}-0")
    with database.begin() as conn:
        conn.execute(
            insert(ingest_dead_letters).values(stream_entry_id="1-0", kind="customer", payload="{", error="bad")
        )
        conn.execute(
            insert(feature_snapshots).values(
                created_at=datetime.now(UTC) - timedelta(minutes=10), taken_at=datetime.now(UTC), row_count=3,
                event_count=7, table_name="features.customer_features_v1", features_path="f", events_path="e",
                columns=[], source_totals={},
            )
        )  # fmt: skip

    text, document = xeno_status(), json.loads(xeno_status("--json"))

    assert f"xeno up never ran in {data_dir.resolve()}" in text
    assert re.search(r"^ingest\s+appliers\s+1\s+0\s+2m \d\ds$", text, re.MULTILINE), text
    assert "Dead letters waiting for a replay: 1" in text
    assert re.search(r"Feature snapshot: version \d+ \(3 customers, 7 events\), 10m \d\ds old", text), text
    assert document["up"] == {"running": False, "pid": None, "processes": []}
    ingest = next(stream for stream in document["streams"] if stream["name"] == "ingest")
    assert (ingest["undelivered"], ingest["pending"]) == (1, 0)
    assert 110 < ingest["lag_seconds"] < 300
    assert document["dead_letters"] == {"waiting": 1}
    assert (document["snapshot"]["customers"], document["snapshot"]["events"]) == (3, 7)


def test_status_after_xeno_up_stopped_says_it_is_not_running(data_dir: Path, database: Engine) -> None:
    supervisor = Supervisor(io.StringIO(), state_dir=data_dir)
    with running_here(data_dir):
        supervisor.start(ServiceSpec("api", SLEEPER))
        supervisor.stop_all()

    text = xeno_status()

    assert "xeno up is not running" in text
    assert re.search(r"^api\s+stopped\s+-\s+-\s+0\s+-$", text, re.MULTILINE), text


def test_status_names_the_server_that_does_not_answer(
    data_dir: Path, database: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    get_settings.cache_clear()

    text, document = xeno_status(), json.loads(xeno_status("--json"))

    assert "Streams: Redis does not answer (ConnectionError" in text
    assert document["streams"]["error"].startswith("Redis does not answer")
    assert "Dead letters waiting for a replay: 0" in text, "what Postgres knows is still shown"


def test_status_shows_failed_runs_with_why_and_launches_that_did_not_go_through(
    data_dir: Path, database: Engine, redis_client: redis.Redis, dagster_home: Path
) -> None:
    _, campaign_id = launches_in_trouble(database)
    fail_an_ingest_run()

    text, document = xeno_status(), json.loads(xeno_status("--json"))

    assert "Dagster runs, newest first (1 of 1 failed; failed work is tried again):" in text
    assert re.search(r"^ingest_stream_job\s+failure\s+drain-3\s+\d+s\s+Detected run worker status", text, re.MULTILINE)
    assert re.search(rf"^{campaign_id}\s+Holi\s+given up\s+5\s+the launch failed 5 times", text, re.MULTILINE), text
    [failed] = document["runs"]
    assert (failed["status"], failed["run_key"]) == ("FAILURE", "drain-3")
    assert {launch["campaign_id"]: launch["status"] for launch in document["launches"]}[campaign_id] == "failed"


def test_status_without_dagster_says_its_runs_cannot_be_read(data_dir: Path, database: Engine,
                                                             configure: Callable[..., Settings]) -> None:  # fmt: skip
    configure(XENO_DAGSTER_URL=f"http://127.0.0.1:{free_port()}")

    text = xeno_status()

    assert re.search(r"^Dagster runs: Dagster's webserver at http://127.0.0.1:\d+ did not answer", text, re.MULTILINE)
    assert "Campaign launches: none being tried again or given up on" in text
