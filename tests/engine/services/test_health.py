"""The workers' `GET /health`: 200 when Postgres and Redis answer, 503 naming the one that does not; their
`GET /metrics` beside it; and the worker commands serve it on the port `xeno up` gives them, before their loop
starts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import Engine

from engine.services.health import serve_health
from engine.services.supervisor import free_port

XENO = str(Path(sys.executable).parent / "xeno")


@pytest.fixture
def health_url(database: Engine, redis_client: redis.Redis) -> Iterator[str]:
    port = free_port()
    server = serve_health("deliver", port, database, redis_client)
    assert server is not None
    yield f"http://127.0.0.1:{port}/health"
    server.shutdown()


def test_worker_health_answers_200_when_postgres_and_redis_answer(health_url: str) -> None:
    answer = httpx.get(health_url, timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "postgres": "ok", "redis": "ok", "worker": "deliver"}


def test_a_worker_serves_its_prometheus_metrics_beside_its_health(health_url: str) -> None:
    answer = httpx.get(health_url.replace("/health", "/metrics"), timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert "process_resident_memory_bytes" in answer.text


def test_worker_health_answers_503_naming_redis_when_redis_is_down(database: Engine) -> None:
    port = free_port()
    unreachable = redis.Redis(port=free_port(), socket_connect_timeout=1)
    server = serve_health("ai-worker", port, database, unreachable)
    assert server is not None
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
    finally:
        server.shutdown()
    assert answer.status_code == 503
    body = answer.json()
    assert (body["status"], body["postgres"], body["worker"]) == ("degraded", "ok", "ai-worker")
    assert body["redis"].startswith("unavailable: ")


def test_no_health_server_without_a_port(database: Engine, redis_client: redis.Redis) -> None:
    assert serve_health("deliver", None, database, redis_client) is None


@pytest.mark.parametrize(("command", "worker_name"), [(["deliver"], "deliver"), (["ai", "worker"], "ai-worker")])
def test_worker_commands_serve_health_on_the_port_they_are_given(
    command: list[str], worker_name: str, database: Engine, redis_client: redis.Redis
) -> None:
    port = free_port()
    env = {**os.environ, "XENO_HEALTH_PORT": str(port)}
    worker = subprocess.Popen([XENO, *command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180  # a loaded machine takes a while to import it all
        while True:
            assert worker.poll() is None, f"xeno {' '.join(command)} exited with {worker.returncode}"
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the worker never served /health"
                time.sleep(0.1)
        assert answer.status_code == 200
        assert answer.json()["worker"] == worker_name
    finally:
        worker.terminate()
        worker.wait(timeout=30)
