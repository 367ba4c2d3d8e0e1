"""Freshness benchmark: how soon an accepted event is a row in Postgres, and a member of a segment, under load.

On a fresh database holding `--customers` customers with `--orders` orders and `--events` events (bench.features'
generator), a full feature snapshot is published (`materialize_features`, timed: the baseline, what every change
waited for before deltas). Then the product's parts run side by side: the API (uvicorn), the ingest job's
following run and the feature deltas job's following run (the Dagster jobs themselves, executed in child
processes by `dagster job execute`, as the sensors' runs are). A load generator posts Segment batches of
"Product Viewed" to existing customers at `--rate` events/s, and every `--probe-every-s` a probe: an "Order
Completed" of 1,000,000 for a new customer, which puts that customer in the segment "total_spend >= 1,000,000".
For each probe it measures:
- `accepted_to_row`: from the API's 202 to the order's row being visible in Postgres;
- `event_to_segment`: from the 202 to the API's segment preview counting the customer;
- `row_to_segment`: from the row in Postgres to the segment counting it (the features' share of the above).

    python -m bench.freshness [--customers N] [--orders N] [--events N] [--rate N] [--seconds N] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from dagster import DagsterEventType, DagsterInstance

from bench.common import api_process, process, report, use_fresh_services
from bench.features import load_data
from engine.connections import get_engine, reset_connections
from engine.features.materialize import materialize_features
from engine.keys import create_key
from engine.services.supervisor import free_port
from engine.settings import get_settings
from tests.fixtures.users import auth_headers

PROBE_SPEND = 1_000_000
BATCH = 100  # events per request of the load
CONCURRENCY = 32
PROBES_RULE = {"field": "total_spend", "op": ">=", "value": PROBE_SPEND}


@dataclass
class Probes:
    """When each probe was accepted, reached Postgres, and entered the segment (monotonic seconds)."""

    accepted: dict[int, float] = field(default_factory=dict)
    in_postgres: dict[int, float] = field(default_factory=dict)
    in_segment: dict[int, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def latencies(self, arrived: dict[int, float], since: dict[int, float] | None = None) -> list[float]:
        """Per probe, from accepted (or `since`) to `arrived`."""
        start = self.accepted if since is None else since
        return [arrived[k] - start[k] for k in sorted(arrived) if k in start]


def _load_body(first: int, customers: int) -> bytes:
    messages = [
        {"type": "track", "userId": f"c{1 + (first + n) * 7919 % customers}", "event": "Product Viewed",
         "properties": {"sku": f"SKU-{n % 97}"}, "messageId": f"load-{first + n}"}
        for n in range(BATCH)
    ]  # fmt: skip
    return orjson.dumps({"batch": messages})


def _probe_body(k: int) -> bytes:
    message = {
        "type": "track", "userId": f"probe-{k}", "event": "Order Completed", "messageId": f"probe-{k}",
        "properties": {"order_id": f"probe-{k}", "total": PROBE_SPEND, "currency": "INR"},
    }  # fmt: skip
    return orjson.dumps({"batch": [message]})


async def generate(url: str, key: str, rate: float, seconds: float, probe_every_s: float, customers: int,
                   probes: Probes) -> int:  # fmt: skip
    """Post the load at `rate` events/s and a probe every `probe_every_s` for `seconds`; the events accepted."""
    headers = {"Content-Type": "application/json", "Authorization": aiohttp.encode_basic_auth(key, "")}
    accepted = 0
    in_flight = asyncio.Semaphore(CONCURRENCY)

    async def post(session: aiohttp.ClientSession, body: bytes, events: int, probe: int | None) -> None:
        nonlocal accepted
        async with in_flight, session.post(f"{url}/v1/batch", data=body, headers=headers) as response:
            if response.status != 200:
                raise RuntimeError(f"the API answered {response.status}: {await response.text()}")
            if probe is not None:
                probes.accepted[probe] = time.monotonic()
            accepted += events

    started = time.monotonic()
    sent = probe = 0
    tasks: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY + 4)) as session:
        while (elapsed := time.monotonic() - started) < seconds:
            if probe * probe_every_s <= elapsed:
                tasks.add(asyncio.create_task(post(session, _probe_body(probe), 1, probe)))
                probe += 1
            while sent < rate * elapsed:
                tasks.add(asyncio.create_task(post(session, _load_body(sent, customers), BATCH, None)))
                sent += BATCH
            tasks = {task for task in tasks if not task.done() or task.result()}
            await asyncio.sleep(0.005)
        await asyncio.gather(*tasks)
    return accepted


def watch_postgres(probes: Probes, stop: threading.Event) -> None:
    """Note when each accepted probe's order becomes visible in Postgres (looked at every 20 ms)."""
    with get_engine().connect() as conn:
        while not stop.is_set():
            waiting = [k for k in list(probes.accepted) if k not in probes.in_postgres]
            if waiting:
                found = conn.exec_driver_sql(
                    "SELECT external_id FROM orders WHERE external_id = ANY(%(ids)s)",
                    {"ids": [f"probe-{k}" for k in waiting]},
                ).scalars()
                now = time.monotonic()
                for external_id in found:
                    probes.in_postgres[int(external_id.removeprefix("probe-"))] = now
                conn.rollback()
            stop.wait(0.02)


def watch_segment(url: str, headers: dict[str, str], probes: Probes, stop: threading.Event) -> None:
    """Note when the segment's size in the API's answer counts each probe (asked every 50 ms)."""
    import httpx

    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        while not stop.is_set():
            answer = client.post("/v1/segments/preview", json={"rule": PROBES_RULE, "sample_size": 0})
            if answer.status_code == 200:
                size, now = answer.json()["size"], time.monotonic()
                for k in range(size):
                    probes.in_segment.setdefault(k, now)
            stop.wait(0.05)


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(share * 100) - 1], 3)


FOLLOWING_JOBS = {"ingest": ("ingest_stream_job", "drain_ingest_stream"),
                  "deltas": ("publish_feature_deltas_job", "publish_feature_deltas")}  # fmt: skip


def following_run(role: str, config_dir: Path) -> list[str]:
    """The command that runs one of the Dagster jobs as its sensor's following run does, until stopped."""
    job, op = FOLLOWING_JOBS[role]
    config = config_dir / f"{role}.json"
    config.write_text(json.dumps({"ops": {op: {"config": {"follow": True, "shift_s": 86_400, "idle_s": 86_400}}}}))
    return [sys.executable, "-m", "dagster", "job", "execute", "-m", "pipelines.definitions", "-j", job,
            "-c", str(config)]  # fmt: skip


def wait_until_following(children: list[subprocess.Popen[bytes]], timeout_s: float = 300) -> None:
    """Wait until the job runs' ops have started (a loaded machine takes tens of seconds to start one), so that the
    load does not time their start-up."""
    deadline = time.monotonic() + timeout_s
    with DagsterInstance.get() as instance:
        while sum(_op_started(instance, run_id) for run_id in instance.get_run_ids()) < len(children):
            if any(child.poll() is not None for child in children) or time.monotonic() > deadline:
                raise RuntimeError("a following job run did not start (run `dagster job execute` by hand to see why)")
            time.sleep(0.2)


def _op_started(instance: DagsterInstance, run_id: str) -> bool:
    return bool(instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_START, limit=1).records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--rate", type=float, default=10_000, help="events per second posted")
    parser.add_argument("--seconds", type=float, default=60, help="how long the load runs")
    parser.add_argument("--probe-every-s", type=float, default=0.5)
    parser.add_argument(
        "--api-workers",
        type=int,
        default=1,
        help="uvicorn workers (several: uvicorn's health check kills a worker a loaded machine keeps busy)",
    )
    parser.add_argument("--quick", action="store_true", help="50k customers, 20 s of load: under a minute")
    args = parser.parse_args()
    if args.quick:
        args.customers, args.orders, args.events, args.seconds = 50_000, 250_000, 100_000, 20

    data_dir = Path(tempfile.mkdtemp(prefix="xeno-freshness-"))
    os.environ["XENO_DATA_DIR"] = str(data_dir)
    os.environ["DAGSTER_HOME"] = str(data_dir)  # the job runs keep their records in a throwaway Dagster instance
    with DagsterInstance.get():  # its storage made here: the two job processes racing to make it left one dead
        pass
    # A Redis database of its own: the ingest benchmarks, run meanwhile on db 10, clear the ingest stream there.
    use_fresh_services("xeno_bench_freshness", redis_db=14)
    load_data(args.customers, args.orders, args.events)
    with get_engine().begin() as conn:  # the generator wrote ids itself: new rows take the next ones
        for table in ("customers", "orders", "events"):
            conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}")
    full = materialize_features(get_engine(), get_settings().data_dir / "snapshots")
    print(f"baseline: a full refresh of {args.customers:,} customers  {full.seconds:>8.1f} s", flush=True)
    key = create_key(get_engine(), "bench").secret
    headers = auth_headers(get_engine(), "analyst")
    reset_connections()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    probes, stop = Probes(), threading.Event()
    with (
        api_process(port, args.api_workers),
        process(following_run("ingest", data_dir)) as ingest_run,
        process(following_run("deltas", data_dir)) as deltas_run,
    ):
        wait_until_following([ingest_run, deltas_run])
        watchers = [
            threading.Thread(target=watch_postgres, args=(probes, stop), daemon=True),
            threading.Thread(target=watch_segment, args=(url, headers, probes, stop), daemon=True),
        ]
        for watcher in watchers:
            watcher.start()
        applied_before = _events_applied()
        started = time.monotonic()
        accepted = asyncio.run(generate(url, key, args.rate, args.seconds, args.probe_every_s, args.customers, probes))
        posting_s = time.monotonic() - started
        deadline = time.monotonic() + 60
        while len(probes.in_segment) < len(probes.accepted) and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        for watcher in watchers:
            watcher.join()
        applied = _events_applied() - applied_before

    to_row, to_segment = probes.latencies(probes.in_postgres), probes.latencies(probes.in_segment)
    row_to_segment = probes.latencies(probes.in_segment, since=probes.in_postgres)
    figures: dict[str, Any] = {
        "bench": "freshness",
        "customers": args.customers,
        "orders": args.orders,
        "rate_asked": args.rate,
        "ingest_rate_held": round(accepted / posting_s),
        "applied_rate": round(applied / (time.monotonic() - started)),
        "probes": len(probes.accepted),
        "probes_in_segment": len(to_segment),
        "accepted_to_row_p50_s": percentile(to_row, 0.50),
        "accepted_to_row_p95_s": percentile(to_row, 0.95),
        "event_to_segment_p50_s": percentile(to_segment, 0.50),
        "event_to_segment_p95_s": percentile(to_segment, 0.95),
        "row_to_segment_p50_s": percentile(row_to_segment, 0.50),  # what the features add to ingest's latency
        "row_to_segment_p95_s": percentile(row_to_segment, 0.95),
        "baseline_full_refresh_s": round(full.seconds, 3),
    }
    if figures["event_to_segment_p95_s"] is not None:
        figures["ratio"] = round(figures["event_to_segment_p95_s"] / full.seconds, 3)
    for name, value in figures.items():
        print(f"{name:<28} {value}", flush=True)
    report(figures)


def _events_applied() -> int:
    with get_engine().connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one())


if __name__ == "__main__":
    main()
