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

# Each test starts the whole product, which takes minutes on a loaded machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

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

    def wait_for_line(self, text: str, timeout_s: float = 180) -> str:
        deadline = time.monotonic() + timeout_s
        while not (lines := [line for line in list(self.output) if text in line]):
            assert self.process.poll() is None, f"xeno up ended before saying {text!r}:\n" + "".join(self.output)
            assert time.monotonic() < deadline, f"xeno up never said {text!r}:\n" + "".join(self.output)
            time.sleep(0.5)
        return lines[0]


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
    ready = httpx.get(f"{product.api_url}/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ok"

    query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
    answer = httpx.post(f"{product.dagster_url}/graphql", json={"query": query}, timeout=30).json()
    locations = answer["data"]["workspaceOrError"]["locationEntries"]
    assert [(loc["name"], loc["loadStatus"]) for loc in locations] == [("xeno", "LOADED")]


def stop_and_assert_nothing_left(product: RunningProduct, within_s: float) -> None:
    children = product.descendants()
    assert children, "xeno up should have started processes"
    began = time.monotonic()
    product.process.send_signal(signal.SIGINT)
    product.process.wait(timeout=60)
    took = time.monotonic() - began
    assert product.process.returncode == 0, "".join(product.output)
    assert took < within_s, f"Ctrl-C took {took:.0f} s:\n" + "".join(product.output)
    assert any("[xeno] stopping..." in line for line in product.output)
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], f"processes left behind: {[p.pid for p in alive]}"
    after = product.status()["up"]
    assert after["running"] is False
    assert {process["state"] for process in after["processes"]} == {"stopped"}


@pytest.mark.usefixtures("redis_client")  # the stream starts empty: no entries a failed test left
def test_up_on_external_servers_ingests_demo_data_through_dagster_and_stops_cleanly(
    tmp_path: Path, service_urls: tuple[str, str], database: Engine
) -> None:
    database_url, redis_url = service_urls
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "DAGSTER_DATABASE": f"{SESSION_TAG}_dagster"}
    with xeno_up(tmp_path, env, "--demo", "--demo-customers", "300") as product:
        assert_product_answers(product)
        # The demo posts through the API, applies what it posted and publishes the features it segments on.
        product.wait_for_line("[xeno] ready: 300 customers segmentable")
        assert _psql(database_url, "SELECT row_count FROM feature_snapshots ORDER BY version DESC LIMIT 1") == 300
        assert _psql(database_url, "SELECT count(*) > 0 FROM orders") is True
        # Dagster takes over from there: its sensor applies what comes next.
        write_key = (tmp_path / "demo_write_key").read_text().strip()
        posted = httpx.post(
            f"{product.api_url}/v1/customers", auth=(write_key, ""), json={"external_id": "after-demo"}, timeout=30
        )
        assert posted.status_code == 202, posted.text
        deadline = time.monotonic() + 180
        while _psql(database_url, "SELECT count(*) FROM customers WHERE external_id = 'after-demo'") != 1:
            assert time.monotonic() < deadline, "Dagster never applied a later customer:\n" + "".join(product.output)
            time.sleep(1)
        stop_and_assert_nothing_left(product, within_s=10)


@pytest.mark.usefixtures("redis_client")  # the stream starts empty: no entries a failed test left
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
        stop_and_assert_nothing_left(product, within_s=10)


@pytest.mark.timeout(900)  # two starts
def test_up_with_embedded_servers_keeps_data_across_restarts_and_loads_the_demo_once(
    embedded_data_dir: Path,
) -> None:
    tmp_path = embedded_data_dir
    env = {"EMBEDDED_POSTGRES_PORT": str(free_port()), "EMBEDDED_REDIS_PORT": str(free_port())}
    database_url = f"postgresql://postgres@127.0.0.1:{env['EMBEDDED_POSTGRES_PORT']}/xeno"
    redis_url = f"redis://127.0.0.1:{env['EMBEDDED_REDIS_PORT']}/0"
    demo = ("--demo", "--demo-customers", "50")
    with xeno_up(tmp_path, env, *demo) as product:
        assert_product_answers(product)
        product.wait_for_line("[xeno] ready: 50 customers segmentable")
        _psql(database_url, "INSERT INTO customers (external_id, email) VALUES ('kept-1', 'kept@example.com')")
        _redis(redis_url).xadd("xeno:kept", {"n": "1"})
        stop_and_assert_nothing_left(product, within_s=25)  # the servers may take 10 s of their own

    with xeno_up(tmp_path, env, *demo) as product:
        assert_product_answers(product)
        assert _psql(database_url, "SELECT email FROM customers WHERE external_id = 'kept-1'") == "kept@example.com"
        assert _redis(redis_url).xlen("xeno:kept") == 1
        product.wait_for_line("[xeno] demo data: already loaded (50 customers); not posting it again")
        assert _psql(database_url, "SELECT count(*) FROM api_keys WHERE name = 'demo data'") == 1
        stop_and_assert_nothing_left(product, within_s=25)


def _psql(url: str, sql: str) -> object:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchone()[0] if cursor.description else None  # type: ignore[index]


def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)
