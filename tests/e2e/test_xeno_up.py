"""`xeno up` starts the whole product, on external servers or embedded ones, heals a process that dies, and
Ctrl-C stops all of it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest
import redis
from sqlalchemy import Engine

from engine.services.supervisor import free_port
from tests.fixtures.services import SESSION_TAG

pytestmark = pytest.mark.slow

XENO = str(Path(sys.executable).parent / "xeno")


class RunningProduct:
    def __init__(self, process: subprocess.Popen[str], env: dict[str, str], api_url: str, dagster_url: str) -> None:
        self.process = process
        self.env = env
        self.api_url = api_url
        self.dagster_url = dagster_url
        self.output: list[str] = []

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def status(self) -> dict[str, Any]:
        """What `xeno status --json` says, run beside it as an operator would."""
        answer = subprocess.run([XENO, "status", "--json"], env=self.env, capture_output=True, text=True, check=True)
        return dict(json.loads(answer.stdout))

    def process_state(self, name: str) -> dict[str, Any]:
        return next(process for process in self.status()["up"]["processes"] if process["name"] == name)


@contextmanager
def xeno_up(data_dir: Path, env: dict[str, str], *args: str, timeout_s: float = 240) -> Iterator[RunningProduct]:
    api_port, dagster_port = free_port(), free_port()
    full_env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
        "XENO_DATA_DIR": str(data_dir),
        "API_PORT": str(api_port),
        "DAGSTER_PORT": str(dagster_port),
        "VENDOR_PORT": str(free_port()),
        "DASHBOARD_PORT": str(free_port()),
        "DAGSTER_CODE_PORT": str(free_port()),
        **env,
    }
    process = subprocess.Popen(
        [XENO, "up", *args], env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=data_dir
    )
    product = RunningProduct(process, full_env, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{dagster_port}")
    is_up = threading.Event()

    def read_output() -> None:  # always drained, so a chatty child never blocks on a full pipe
        assert process.stdout is not None
        for line in process.stdout:
            product.output.append(line)
            if "Xeno CRM is up" in line:
                is_up.set()

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not is_up.wait(0.5):
            if process.poll() is not None:
                pytest.fail("xeno up exited while starting:\n" + "".join(product.output))
            assert time.monotonic() < deadline, "xeno up did not come up in time:\n" + "".join(product.output)
        yield product
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
        reader.join(timeout=10)


def assert_product_answers(product: RunningProduct) -> None:
    health = httpx.get(f"{product.api_url}/health", timeout=10)
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "ok"

    query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
    answer = httpx.post(f"{product.dagster_url}/graphql", json={"query": query}, timeout=30).json()
    locations = answer["data"]["workspaceOrError"]["locationEntries"]
    assert [(loc["name"], loc["loadStatus"]) for loc in locations] == [("xeno", "LOADED")]


def stop_and_assert_nothing_left(product: RunningProduct) -> None:
    children = product.descendants()
    assert children, "xeno up should have started processes"
    product.process.send_signal(signal.SIGINT)
    product.process.wait(timeout=60)
    assert product.process.returncode == 0, "".join(product.output)
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], f"processes left behind: {[p.pid for p in alive]}"
    after = product.status()["up"]
    assert after["running"] is False
    assert {process["state"] for process in after["processes"]} == {"stopped"}


def test_up_on_external_servers_ingests_demo_data_through_dagster_and_stops_cleanly(
    tmp_path: Path, service_urls: tuple[str, str], database: Engine
) -> None:
    database_url, redis_url = service_urls
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "DAGSTER_DATABASE": f"{SESSION_TAG}_dagster"}
    with xeno_up(tmp_path, env, "--demo", "--demo-customers", "300") as product:
        assert_product_answers(product)
        # The demo posts through the API; Dagster's sensor sees the stream and its job applies it.
        deadline = time.monotonic() + 180
        while _psql(database_url, "SELECT count(*) FROM customers") != 300:
            assert time.monotonic() < deadline, "the demo data never reached Postgres:\n" + "".join(product.output)
            time.sleep(1)
        assert _psql(database_url, "SELECT count(*) > 0 FROM orders") is True
        stop_and_assert_nothing_left(product)


def test_a_delivery_worker_killed_with_sigkill_is_restarted_and_xeno_status_shows_it(
    tmp_path: Path, service_urls: tuple[str, str], database: Engine
) -> None:
    database_url, redis_url = service_urls
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "DAGSTER_DATABASE": f"{SESSION_TAG}_dagster"}
    with xeno_up(tmp_path, env) as product:
        before = product.process_state("deliver")
        assert (before["state"], before["restarts"]) == ("ready", 0)

        os.kill(before["pid"], signal.SIGKILL)

        deadline = time.monotonic() + 120
        while (after := product.process_state("deliver"))["state"] != "ready" or after["restarts"] != 1:
            assert time.monotonic() < deadline, "deliver was not restarted:\n" + "".join(product.output)
            time.sleep(0.5)
        assert after["pid"] != before["pid"]
        assert after["last_exit"] == "killed by SIGKILL"
        assert any("[xeno] deliver killed by SIGKILL" in line for line in product.output)
        health_port = psutil.Process(after["pid"]).environ()["XENO_HEALTH_PORT"]
        assert httpx.get(f"http://127.0.0.1:{health_port}/health", timeout=10).json()["status"] == "ok"
        others = [p for p in product.status()["up"]["processes"] if p["name"] != "deliver"]
        assert {(p["name"], p["state"], p["restarts"]) for p in others} == {(p["name"], "ready", 0) for p in others}
        assert_product_answers(product)
        stop_and_assert_nothing_left(product)


def test_up_with_embedded_servers_keeps_data_across_restarts(embedded_data_dir: Path) -> None:
    tmp_path = embedded_data_dir
    env = {"EMBEDDED_POSTGRES_PORT": str(free_port()), "EMBEDDED_REDIS_PORT": str(free_port())}
    database_url = f"postgresql://postgres@127.0.0.1:{env['EMBEDDED_POSTGRES_PORT']}/xeno"
    redis_url = f"redis://127.0.0.1:{env['EMBEDDED_REDIS_PORT']}/0"
    with xeno_up(tmp_path, env) as product:
        assert_product_answers(product)
        _psql(database_url, "INSERT INTO customers (external_id, email) VALUES ('kept-1', 'kept@example.com')")
        _redis(redis_url).xadd("xeno:kept", {"n": "1"})
        stop_and_assert_nothing_left(product)

    with xeno_up(tmp_path, env) as product:
        assert_product_answers(product)
        assert _psql(database_url, "SELECT email FROM customers WHERE external_id = 'kept-1'") == "kept@example.com"
        assert _redis(redis_url).xlen("xeno:kept") == 1
        stop_and_assert_nothing_left(product)


def _psql(url: str, sql: str) -> object:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchone()[0] if cursor.description else None  # type: ignore[index]


def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)
