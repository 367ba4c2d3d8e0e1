"""Ingest benchmark: events per second from HTTP batch posts to rows committed in Postgres.

Three measurements in one run, on a fresh database: the API alone accepting batches onto the stream, the
consumer alone applying a full stream (with `INGEST_APPLIERS` appliers, as `xeno ingest drain` does), and both
side by side end to end (the headline figure: from the first post until the last event is committed). The baseline
is a raw COPY of the same rows straight into the events table, measured in the same run.

End to end, the following consumer (`xeno ingest drain --follow`) is started first and timed once it answers its
health check, as the API is: a service that runs, whose start is no part of ingest.

Rates on a shared 2-core machine swing with its load, so the CPU each part spent per event is reported too: the
API's worker processes, the consumer, and the Postgres backends serving the consumer (when Postgres runs on this
machine); those figures barely depend on what else runs. End to end, `e2e_cpu_us_per_event` splits every busy
process's CPU among the API, the consumer, the Postgres and Redis servers and the load generator (this process).

    python -m bench.ingest [--events N] [--batch N] [--concurrency N] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import orjson
import psutil

from bench.common import (
    api_process,
    cpu_seconds,
    cpu_split,
    family,
    local_servers,
    post_bodies,
    process,
    report,
    use_fresh_services,
)  # fmt: skip
from engine import streams
from engine.connections import get_engine, get_redis, psycopg_connection
from engine.garbage_collector import tune_garbage_collector
from engine.ingest.consumer import GROUP, drain
from engine.keys import create_key
from engine.services.supervisor import free_port
from engine.settings import get_settings


def make_bodies(events: int, batch: int, phase: str) -> list[bytes]:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    bodies = []
    for first in range(0, events, batch):
        messages = [
            {
                "type": "track",
                "userId": f"user-{n % 10_000}",
                "event": "Product Viewed",
                "properties": {"sku": f"SKU-{n % 97}", "price": 499 + n % 13},
                "timestamp": (start + timedelta(seconds=n)).isoformat(),
                "messageId": f"{phase}-{n}",
            }
            for n in range(first, min(first + batch, events))
        ]
        bodies.append(orjson.dumps({"batch": messages}))
    return bodies


def copy_baseline(bodies: list[bytes]) -> float:
    """Rows per second for COPY of the same events straight into the events table."""
    rows = [
        (m["messageId"], "track", m["event"], orjson.dumps(m["properties"]).decode(), "{}", m["timestamp"])
        for body in bodies
        for m in orjson.loads(body)["batch"]
    ]
    with get_engine().begin() as conn:
        started = time.perf_counter()
        with (
            psycopg_connection(conn).cursor() as cursor,
            cursor.copy("COPY events (message_id, type, name, properties, context, occurred_at) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
    elapsed = time.perf_counter() - started
    with get_engine().begin() as conn:
        conn.exec_driver_sql("TRUNCATE events, customers RESTART IDENTITY CASCADE")
    return len(rows) / elapsed


def post_batches(url: str, key: str, bodies: list[bytes], concurrency: int) -> float:
    """Post every body to `/v1/batch` with `concurrency` requests in flight; the seconds it took."""
    headers = {"Content-Type": "application/json", "Authorization": aiohttp.encode_basic_auth(key, "")}
    return asyncio.run(post_bodies(f"{url}/v1/batch", bodies, headers, concurrency, expect=200))


def postgres_backends() -> list[int]:
    """The server processes of this benchmark's database connections, when Postgres runs on this machine. The one
    asking is one of them: a pooled connection, which an applier takes next."""
    with get_engine().connect() as conn:
        pids = conn.exec_driver_sql("SELECT pid FROM pg_stat_activity WHERE datname = current_database()").scalars()
        return [pid for pid in pids if psutil.pid_exists(pid)]


def postgres_serving_this_database() -> list[psutil.Process]:
    """The Postgres server's processes on this machine, but for the backends of other databases' clients (whatever
    else runs on a shared machine)."""
    database = get_engine().url.database

    def serves_another(title: str) -> bool:
        return ("(" in title or "[local]" in title) and f" {database} " not in title

    return [server for server in local_servers("postgres") if not serves_another(" ".join(server.cmdline()))]


def backends_cpu_seconds(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def us_per_event(seconds: float, events: int) -> float:
    return round(seconds * 1e6 / events, 1)


def committed_events() -> int:
    with get_engine().connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100, help="events per HTTP request")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--api-workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--quick", action="store_true", help="200k events: under a minute")
    args = parser.parse_args()
    events = 200_000 if args.quick else args.events

    use_fresh_services()
    tune_garbage_collector()  # as every process of the product does when it starts (the consumer runs in this one)
    key = create_key(get_engine(), "bench").secret
    baseline = copy_baseline(make_bodies(events, args.batch, "copy"))
    print(f"baseline: COPY straight into events         {baseline:>10,.0f} rows/s", flush=True)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = get_settings()
    with api_process(port, args.api_workers) as api:
        api_cpu = cpu_seconds(api.pid)
        api_seconds = post_batches(url, key, make_bodies(events, args.batch, "api"), args.concurrency)
        api_cpu = cpu_seconds(api.pid) - api_cpu
        print(f"API alone: validate + XADD                   {events / api_seconds:>10,.0f} events/s", flush=True)

        drain(get_engine(), get_redis(), settings, consumer="bench", max_batches=1, appliers=settings.ingest_appliers)
        first_batches = committed_events()  # the appliers' connections are open now: their backends can be watched
        backends = postgres_backends()
        consumer_cpu, postgres_cpu, started = time.process_time(), backends_cpu_seconds(backends), time.perf_counter()
        drain(get_engine(), get_redis(), settings, consumer="bench", appliers=settings.ingest_appliers)
        consumer_seconds = time.perf_counter() - started
        consumer_cpu, postgres_cpu = time.process_time() - consumer_cpu, backends_cpu_seconds(backends) - postgres_cpu
        assert committed_events() == events
        consumer_rate = (events - first_batches) / consumer_seconds
        print(f"consumer alone: stream -> COPY -> upsert     {consumer_rate:>10,.0f} events/s", flush=True)

        consumer = [sys.executable, "-m", "engine.cli", "ingest", "drain", "--follow"]
        health = free_port()  # ready once it answers there: a running service, as the API is, not a process start
        with process(consumer, f"http://127.0.0.1:{health}/health", env={"XENO_HEALTH_PORT": str(health)}) as follower:
            e2e_bodies = make_bodies(events, args.batch, "e2e")
            print("end to end: the consumer is reading; posting", flush=True)
            parts = {
                "api": lambda: family(api.pid), "consumer": lambda: family(follower.pid),
                "postgres": postgres_serving_this_database, "redis": lambda: local_servers("redis-server"),
                "load_generator": lambda: [psutil.Process()],
            }  # fmt: skip
            with cpu_split(parts) as e2e_cpu:
                started = time.perf_counter()
                post_batches(url, key, e2e_bodies, args.concurrency)
                # The backlog reaches zero only once every entry is committed and acknowledged; polling it is
                # cheap, where counting the events table would steal the CPU being measured.
                while streams.backlog(get_redis(), get_settings().stream("ingest"), GROUP) != streams.Backlog(0, 0):
                    time.sleep(0.02)
                e2e_seconds = time.perf_counter() - started
            end_to_end = events / e2e_seconds
        assert committed_events() == 2 * events
    print(f"end to end, API and consumer side by side    {end_to_end:>10,.0f} events/s", flush=True)
    report({
        "bench": "ingest",
        "events": events,
        "batch": args.batch,
        "api_workers": args.api_workers,
        "events_per_s": round(end_to_end),
        "baseline": round(baseline),
        "ratio": round(end_to_end / baseline, 3),
        "api_events_per_s": round(events / api_seconds),
        "consumer_events_per_s": round(consumer_rate),
        "appliers": settings.ingest_appliers,
        "api_cpu_us_per_event": us_per_event(api_cpu, events),
        "consumer_cpu_us_per_event": us_per_event(consumer_cpu, events - first_batches),
        "postgres_cpu_us_per_event": us_per_event(postgres_cpu, events - first_batches) if backends else None,
        "e2e_cpu_us_per_event": {part: us_per_event(seconds, events) for part, seconds in e2e_cpu.items()},
        "e2e_cores_busy": round(sum(e2e_cpu.values()) / e2e_seconds, 2),
        "load_1m": round(os.getloadavg()[0], 2),  # figures are comparable only at a like load
    })  # fmt: skip


if __name__ == "__main__":
    main()
