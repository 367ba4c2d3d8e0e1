"""Ingest benchmark: events per second from HTTP batch posts to rows committed in Postgres.

Three measurements in one run, on a fresh database: the API alone accepting batches onto the stream, the
consumer alone applying a full stream, and both side by side end to end (the headline figure: from the
first post until the last event is committed). The baseline is a raw COPY of the same rows straight into
the events table, measured in the same run.

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

from bench.common import api_process, process, report, use_fresh_services
from engine import streams
from engine.connections import get_engine, get_redis, psycopg_connection
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


async def post_all(url: str, key: str, bodies: list[bytes], concurrency: int) -> float:
    """Post every body with `concurrency` requests in flight; returns the seconds it took."""
    queue = list(reversed(bodies))
    headers = {"Content-Type": "application/json", "Authorization": aiohttp.encode_basic_auth(key, "")}

    async def worker(session: aiohttp.ClientSession) -> None:
        while queue:
            body = queue.pop()
            async with session.post(f"{url}/v1/batch", data=body, headers=headers) as response:
                if response.status != 200:
                    raise RuntimeError(f"the API answered {response.status}: {await response.text()}")

    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return time.perf_counter() - started


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
    key = create_key(get_engine(), "bench").secret
    baseline = copy_baseline(make_bodies(events, args.batch, "copy"))
    print(f"baseline: COPY straight into events         {baseline:>10,.0f} rows/s", flush=True)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with api_process(port, args.api_workers):
        api_seconds = asyncio.run(post_all(url, key, make_bodies(events, args.batch, "api"), args.concurrency))
        print(f"API alone: validate + XADD                   {events / api_seconds:>10,.0f} events/s", flush=True)

        started = time.perf_counter()
        drain(get_engine(), get_redis(), get_settings(), consumer="bench")
        consumer_seconds = time.perf_counter() - started
        assert committed_events() == events
        print(f"consumer alone: stream -> COPY -> upsert     {events / consumer_seconds:>10,.0f} events/s", flush=True)

        consumer = [sys.executable, "-m", "engine.cli", "ingest", "drain", "--follow"]
        with process(consumer):
            started = time.perf_counter()
            asyncio.run(post_all(url, key, make_bodies(events, args.batch, "e2e"), args.concurrency))
            # The backlog reaches zero only once every entry is committed and acknowledged; polling it is
            # cheap, where counting the events table would steal the CPU being measured.
            while streams.backlog(get_redis(), get_settings().stream("ingest"), GROUP) != streams.Backlog(0, 0):
                time.sleep(0.02)
            end_to_end = events / (time.perf_counter() - started)
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
        "consumer_events_per_s": round(events / consumer_seconds),
        "load_1m": round(os.getloadavg()[0], 2),  # figures are comparable only at a like load
    })  # fmt: skip


if __name__ == "__main__":
    main()
