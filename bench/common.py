"""What every benchmark shares: a fresh database and Redis to measure on, processes, signed-in analysts, posting
bodies side by side, and the JSON line."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import aiohttp
import psutil
from sqlalchemy import create_engine, text

from engine import migrate
from engine.auth.roles import Role
from engine.auth.sessions import start_session
from engine.auth.users import record_sign_in
from engine.connections import get_engine, get_redis, reset_connections
from engine.services.supervisor import http_ok
from engine.settings import get_settings


def use_fresh_services(database: str = "xeno_bench", redis_db: int = 10) -> None:
    """Point the settings at an empty, migrated database and a Redis database without this installation's keys
    (those under REDIS_PREFIX) on the local servers, or those named by BENCH_DATABASE_URL / BENCH_REDIS_URL."""
    database_url = os.environ.get("BENCH_DATABASE_URL", f"postgresql://postgres@127.0.0.1:5432/{database}")
    redis_url = os.environ.get("BENCH_REDIS_URL", f"redis://127.0.0.1:6379/{redis_db}")
    os.environ.update(DATABASE_URL=database_url, REDIS_URL=redis_url)
    get_settings.cache_clear()
    reset_connections()
    admin = create_engine(get_engine().url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{get_engine().url.database}" WITH (FORCE)'))
    admin.dispose()
    reset_connections()
    migrate.upgrade()
    client = get_redis()
    stale = list(client.scan_iter(match=f"{get_settings().redis_prefix}:*", count=1000))
    if stale:
        client.delete(*stale)


@contextmanager
def process(
    argv: list[str], ready_url: str | None = None, timeout_s: float = 180, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a helper process (the API, a consumer) with this process's environment (and `env`); stop it afterwards.

    What it says goes to a file, not a pipe: a pipe nobody reads fills up and stops a chatty child (a Dagster
    run logs every event). The API takes over a minute to start on a loaded 2-core machine, hence the generous
    `timeout_s`."""
    with tempfile.TemporaryFile() as said:
        child = subprocess.Popen(argv, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=said)
        try:
            if ready_url:
                deadline = time.monotonic() + timeout_s
                while not http_ok(ready_url)():
                    if child.poll() is not None or time.monotonic() > deadline:
                        said.seek(0)
                        last_words = said.read().decode(errors="replace")[-4000:]
                        raise RuntimeError(f"{argv[0]} did not start within {timeout_s:.0f} s: {last_words}")
                    time.sleep(0.1)
            yield child
        finally:
            child.terminate()
            child.wait(timeout=30)


def api_process(port: int, workers: int = 1, env: dict[str, str] | None = None) -> Any:
    argv = [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--port", str(port),
            "--log-level", "warning", "--no-access-log", "--workers", str(workers)]  # fmt: skip
    return process(argv, ready_url=f"http://127.0.0.1:{port}/health", env=env)


def analyst_tokens(count: int) -> list[str]:
    """The access tokens of `count` analysts signed in for the benchmark, one each (rate limits are per user)."""
    with get_engine().begin() as conn:
        return [
            start_session(
                conn, get_settings(), record_sign_in(conn, f"analyst{n}@shop.example", "Analyst", Role.analyst), "bench"
            ).access_token
            for n in range(count)
        ]


async def post_bodies(url: str, bodies: list[bytes], headers: dict[str, str], concurrency: int, expect: int) -> float:
    """Post every body to `url` with `concurrency` requests in flight, each to be answered `expect` (any other
    answer stops the benchmark); the seconds it took."""
    queue = list(reversed(bodies))

    async def worker(session: aiohttp.ClientSession) -> None:
        while queue:
            body = queue.pop()
            async with session.post(url, data=body, headers=headers) as response:
                answer = await response.read()
                if response.status != expect:
                    raise RuntimeError(f"{url} answered {response.status}: {answer[:500].decode(errors='replace')}")

    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return time.perf_counter() - started


def cpu_seconds(pid: int, children: bool = True) -> float:
    """The CPU time (user and system) process `pid` and, unless told not to, its children (uvicorn's workers) have
    spent so far."""
    processes = family(pid) if children else [psutil.Process(pid)]
    return sum(sum(process.cpu_times()[:2]) for process in processes)


def family(pid: int) -> list[psutil.Process]:
    """Process `pid` and its children, theirs, and so on."""
    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)]


def local_servers(name: str) -> list[psutil.Process]:
    """The processes of server `name` (`postgres`, `redis-server`) running on this machine, if any."""
    return [process for process in psutil.process_iter(["name"]) if process.info["name"] == name]


@contextmanager
def cpu_split(parts: dict[str, Callable[[], list[psutil.Process]]]) -> Iterator[dict[str, float]]:
    """CPU seconds each part's processes (as listed when the block starts and when it ends) spent within the block,
    filled in on leaving it. A process that appears meanwhile counts whole (a backend forked for a new connection);
    one that ends before the block does is not seen."""

    def spent() -> dict[int, tuple[str, float]]:
        seen = {}
        for part, processes in parts.items():
            for process in processes():
                with suppress(psutil.Error):
                    seen[process.pid] = (part, sum(process.cpu_times()[:2]))
        return seen

    before, split = spent(), dict.fromkeys(parts, 0.0)
    yield split
    for pid, (part, seconds) in spent().items():
        split[part] += seconds - before.get(pid, (part, 0.0))[1]


def api_cpu_us_per_event(
    pid: int, url: str, bodies: list[bytes], headers: dict[str, str], events: int, concurrency: int = 32
) -> float:
    """The CPU microseconds the API process `pid` spent per event accepting `bodies` (holding `events` events) at
    `url`: unlike events per second, hardly swayed by whatever else keeps a shared machine busy."""
    before = cpu_seconds(pid)
    asyncio.run(post_bodies(url, bodies, headers, concurrency, expect=200))
    return (cpu_seconds(pid) - before) * 1e6 / events


def report(figures: dict[str, Any]) -> None:
    """The last line every benchmark prints: its figures as one JSON object."""
    print(json.dumps(figures), flush=True)
