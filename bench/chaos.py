"""Chaos benchmark: the whole product under `kill -9`, and whether it heals with nothing lost or done twice.

It starts the real product (`xeno up` on a fresh database, the local Postgres and Redis), ingests records through
the API (customers, orders and events; some poisoned records go straight onto the ingest stream, as an older API
or a replayed dead letter would put them), then launches a campaign to every customer and lets it be sent and
receipted. All along, a chaos thread kills processes with SIGKILL at random moments: the API, the Dagster run
workers (ingest and launch runs), the delivery worker (sender, receipts applier, housekeeping) and, once, the
Dagster code server; `xeno up` restarts what dies, run monitoring fails the runs whose process is gone and the
sensors run their work again. The ingest client retries what got no answer (a killed API), with the same ids.
Then it waits for everything to settle and checks, from Postgres, Redis, Dagster and the vendor:

    accepted       records the API acknowledged (202), plus the good records of the poisoned entries
    applied        of those, the ones in Postgres; lost = accepted - applied
    duplicated     rows whose key is in Postgres more than once (customers, orders, events, log rows)
    dead_lettered  dead letters; poisoned = how many bad records were put on the stream
    messages       the campaign's recipients; not_final = log rows not delivered, failed or skipped
    sent_twice     messages the vendor sent more than once (distinct sends beyond one per recipient)
    stuck_campaigns campaigns neither completed, cancelled nor failed at the end
    recovery_s     from the last kill until all of the above had settled

    python -m bench.chaos [--quick] [--customers N] [--orders N] [--events N] [--poisoned N] [--kills N]
                          [--seed N] [--settle-timeout-s S] [--log FILE]

`--quick` (about 200k records, a 60k-recipient campaign, 12 kills) runs in a few minutes on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import psutil
from sqlalchemy import create_engine, text

from bench.common import report, use_fresh_services
from engine import streams
from engine.campaigns.lifecycle import CampaignDraft, create_campaign, schedule_campaign
from engine.connections import get_engine, get_redis
from engine.features.catalog import base_catalog
from engine.features.freshness import features_current
from engine.ingest.consumer import GROUP
from engine.keys import create_key
from engine.operations.runs import recent_runs
from engine.services.supervisor import free_port
from engine.settings import get_settings

XENO = str(Path(sys.executable).parent / "xeno")
BATCH = 500  # records per request
CONCURRENCY = 16  # requests in flight
EVERYONE = {"field": "customer_id", "op": ">=", "value": 0}
RUN_WORKER_WAIT_S = 15
TS = "2026-11-25T10:00:00+00:00"
STUCK = "SELECT count(*) FROM campaigns WHERE status NOT IN ('completed', 'cancelled', 'failed')"


def say(line: str) -> None:
    print(f"[chaos] {line}", file=sys.stderr, flush=True)


# --- the product ------------------------------------------------------------------------------------------------


@dataclass
class Product:
    """`xeno up` running in a data folder of its own, on the fresh database; the processes it supervises."""

    process: subprocess.Popen[str]
    env: dict[str, str]
    api_url: str
    dagster_url: str
    vendor_url: str
    output: list[str] = field(default_factory=list)

    def pid_of(self, name: str) -> int | None:
        """The pid `xeno status` gives for the process `name`, when it runs."""
        answer = subprocess.run([XENO, "status", "--json"], env=self.env, capture_output=True, text=True, check=False)
        try:
            processes = orjson.loads(answer.stdout)["up"]["processes"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return None
        found = [p for p in processes if p["name"] == name and p["state"] == "ready" and p["pid"]]
        return int(found[0]["pid"]) if found else None

    def run_workers(self) -> list[psutil.Process]:
        """The processes executing Dagster runs (a run's process and its step's): the code server starts each with
        multiprocessing's spawn."""
        server = self.pid_of("dagster-code-server")
        if server is None:
            return []
        with contextlib.suppress(psutil.NoSuchProcess):
            return [
                child
                for child in psutil.Process(server).children(recursive=True)
                if "spawn_main" in " ".join(child.cmdline())
            ]
        return []


@contextmanager
def xeno_up(data_dir: Path, settings_env: dict[str, str]) -> Iterator[Product]:
    ports = {name: str(free_port()) for name in ("API_PORT", "DAGSTER_PORT", "DAGSTER_CODE_PORT", "VENDOR_PORT",
                                                  "DASHBOARD_PORT")}  # fmt: skip
    env = {**os.environ, **settings_env, **ports, "XENO_DATA_DIR": str(data_dir)}
    process = subprocess.Popen(
        [XENO, "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=data_dir,
        start_new_session=True,
    )  # fmt: skip
    product = Product(
        process, env, f"http://127.0.0.1:{ports['API_PORT']}", f"http://127.0.0.1:{ports['DAGSTER_PORT']}",
        f"http://127.0.0.1:{ports['VENDOR_PORT']}",
    )  # fmt: skip
    up = threading.Event()

    def relay() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            product.output.append(line)
            if "Xeno CRM is up" in line:
                up.set()

    threading.Thread(target=relay, daemon=True).start()
    try:
        say("starting xeno up (the whole product)")
        deadline = time.monotonic() + 300
        while not up.wait(1):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("xeno up did not come up:\n" + "".join(product.output[-60:]))
        say("xeno up is ready")
        yield product
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


# --- chaos ------------------------------------------------------------------------------------------------------


@dataclass
class Chaos:
    """Kills, at random moments, one of the processes of the current phase; keeps a log of what it killed."""

    product: Product
    rng: random.Random
    kills: list[tuple[float, str]] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    code_server_killed: bool = False
    stop: threading.Event = field(default_factory=threading.Event)

    def kill_one(self) -> None:
        target = self.rng.choice(self.targets)
        if target == "run-worker":  # runs come and go: wait a little for one
            deadline = time.monotonic() + RUN_WORKER_WAIT_S
            while not (workers := self.product.run_workers()) and time.monotonic() < deadline:
                self.stop.wait(0.2)
            if workers:
                self._kill(self.rng.choice(workers).pid, "a Dagster run worker")
            return
        if target == "dagster-code-server" and self.code_server_killed:
            return
        pid = self.product.pid_of(target)
        if pid is not None:
            self._kill(pid, target)
            self.code_server_killed |= target == "dagster-code-server"

    def _kill(self, pid: int, name: str) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            self.kills.append((time.monotonic(), name))
            say(f"kill -9 {name} (pid {pid}); {len(self.kills)} kills so far")

    def run(self, every_s: tuple[float, float], until: int) -> None:
        while len(self.kills) < until and not self.stop.wait(self.rng.uniform(*every_s)):
            self.kill_one()

    @contextmanager
    def running(self, targets: list[str], every_s: tuple[float, float], until: int) -> Iterator[None]:
        """Kill one of `targets` every `every_s` (a random time between the two) until `until` kills in all. The
        block's end waits for the last of them, so a run makes as many kills as it was asked for however fast the
        product heals; an error in the block stops them at once."""
        self.targets, self.stop = targets, threading.Event()
        thread = threading.Thread(target=self.run, args=(every_s, until), daemon=True)
        thread.start()
        try:
            yield
        except BaseException:
            self.stop.set()
            raise
        finally:
            thread.join()


# --- ingest -----------------------------------------------------------------------------------------------------


@dataclass
class Accepted:
    """The keys the API acknowledged, by table."""

    customers: set[str] = field(default_factory=set)
    orders: set[str] = field(default_factory=set)
    events: set[str] = field(default_factory=set)
    retries: int = 0

    @property
    def total(self) -> int:
        return len(self.customers) + len(self.orders) + len(self.events)


def requests_to_send(customers: int, orders: int, events: int) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(path, table, items) for every request: customers first, then orders and events of those customers."""
    people = [
        {"external_id": f"c-{n}", "first_name": f"Name{n % 500}", "phone": f"+9198{n:08d}", "sms_consent": True,
         "city": ("Mumbai", "Pune", "Delhi")[n % 3], "updated_at": TS}
        for n in range(customers)
    ]  # fmt: skip
    bought = [
        {"external_id": f"o-{n}", "customer_external_id": f"c-{n % customers}", "amount": f"{100 + n % 900}.00",
         "currency": "INR", "status": "completed", "items": [], "ordered_at": TS, "updated_at": TS}
        for n in range(orders)
    ]  # fmt: skip
    seen = [
        {"type": "track", "messageId": f"e-{n}", "userId": f"c-{n % customers}", "event": "Viewed Product",
         "properties": {"sku": f"SKU-{n % 97}"}, "timestamp": TS}
        for n in range(events)
    ]  # fmt: skip
    chunks: list[tuple[str, str, list[dict[str, Any]]]] = []
    for path, table, items in (("/v1/customers", "customers", people), ("/v1/orders", "orders", bought)):
        chunks += [(path, table, items[i : i + BATCH]) for i in range(0, len(items), BATCH)]
    size = BATCH // 2  # a Segment batch is limited to 500 KB
    chunks += [("/v1/batch", "events", seen[i : i + size]) for i in range(0, len(seen), size)]
    return chunks


async def post_all(url: str, key: str, chunks: list[tuple[str, str, list[dict[str, Any]]]]) -> Accepted:
    """Post every request, retrying each (with the same ids) until the API accepts it: a killed API, a 5xx or a
    429 only delays it."""
    accepted = Accepted()
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    queue: asyncio.Queue[tuple[str, str, list[dict[str, Any]]]] = asyncio.Queue()
    for chunk in chunks:
        queue.put_nowait(chunk)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            path, table, items = queue.get_nowait()
            body = orjson.dumps({"batch": items} if path == "/v1/batch" else items)
            delay = 0.2
            while True:
                try:
                    async with session.post(f"{url}{path}", data=body, headers={"Authorization": auth,
                                            "Content-Type": "application/json"}) as answer:  # fmt: skip
                        payload = await answer.read()
                        if answer.status in (200, 202):  # Segment's endpoints answer 200, ours 202
                            getattr(accepted, table).update(orjson.loads(payload)["ids"])
                            break
                        wait = float(answer.headers.get("Retry-After", delay))
                except (aiohttp.ClientError, TimeoutError):
                    wait = delay
                accepted.retries += 1
                await asyncio.sleep(wait)
                delay = min(delay * 2, 5)

    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
    return accepted


def poison(count: int) -> tuple[int, set[str]]:
    """Put `count` entries on the ingest stream, each with good customers and one record Postgres refuses (a NUL
    in a name, an amount out of range, a time that is not one); the bad records, and the good customers' ids."""
    stream = get_settings().stream("ingest")
    good: set[str] = set()
    bad: list[dict[str, list[dict[str, Any]]]] = [
        {"customers": [{"external_id": "bad-nul", "first_name": "Na\u0000me", "ts": TS}], "orders": []},
        {
            "customers": [],
            "orders": [
                {
                    "external_id": "bad-amount",
                    "customer_external_id": "c-0",
                    "amount": "1e20",
                    "currency": "INR",
                    "status": "completed",
                    "items": [],
                    "ordered_at": TS,
                    "ts": TS,
                }
            ],
        },
        {"customers": [{"external_id": "bad-time", "signed_up_at": "not a time", "ts": TS}], "orders": []},
    ]
    for n in range(count):
        entry: dict[str, Any] = {"customers": [], "orders": [], "events": []}
        for table, records in bad[n % len(bad)].items():
            entry[table] = [{**record, "external_id": f"{record['external_id']}-{n}"} for record in records]
        healthy = [{"external_id": f"p-{n}-{k}", "ts": TS} for k in range(20)]
        entry["customers"] += healthy
        good.update(record["external_id"] for record in healthy)
        streams.publish(get_redis(), stream, entry)
    return count, good


# --- checks -----------------------------------------------------------------------------------------------------


def keys_in(table: str, column: str) -> tuple[set[str], int]:
    """The distinct keys of `table` and how many rows hold a key another row holds too."""
    with get_engine().connect() as conn:
        keys = set(conn.execute(text(f"SELECT {column} FROM {table}")).scalars())
        rows = int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    return keys, rows - len(keys)


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float) -> None:
    say(f"waiting for {what}")
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not reached in {timeout_s:.0f} s")
        time.sleep(1)


def scalar(sql: str, **params: Any) -> Any:
    with get_engine().connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def ingest_settled(accepted: Accepted, good: set[str]) -> bool:
    backlog = streams.backlog(get_redis(), get_settings().stream("ingest"), GROUP)
    customers = scalar("SELECT count(*) FROM customers WHERE external_id LIKE 'c-%' OR external_id LIKE 'p-%'")
    return backlog == streams.Backlog(0, 0) and customers >= len(accepted.customers) + len(good)


def campaign_settled(campaign_id: int) -> bool:
    status = scalar("SELECT status FROM campaigns WHERE id = :id", id=campaign_id)
    waiting = scalar(
        "SELECT count(*) FROM communication_log WHERE campaign_id = :id AND status NOT IN "
        "('delivered', 'failed', 'skipped')",
        id=campaign_id,
    )
    return status == "completed" and waiting == 0


# --- the run ----------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="about 200k records, 60k recipients, 12 kills")
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--orders", type=int, default=400_000)
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--poisoned", type=int, default=30, help="entries on the stream with a record Postgres refuses")
    parser.add_argument("--kills", type=int, default=30, help="kill -9s, at least")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--settle-timeout-s", type=float, default=900)
    parser.add_argument("--log", type=Path, help="write everything the product printed to this file")
    args = parser.parse_args()
    if args.quick:
        args.customers, args.orders, args.events, args.poisoned, args.kills = 60_000, 70_000, 70_000, 12, 12
        args.settle_timeout_s = 300

    use_fresh_services("xeno_chaos", redis_db=11)
    settings = get_settings()
    dagster_database = f"{get_engine().url.database}_dagster"
    admin = create_engine(get_engine().url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{dagster_database}" WITH (FORCE)'))
    admin.dispose()
    key = create_key(get_engine(), "chaos").secret
    settings_env = {
        "DATABASE_URL": settings.postgres_url,
        "REDIS_URL": settings.redis_address,
        "DAGSTER_DATABASE": dagster_database,
        "INGEST_CLAIM_IDLE_MS": "5000",
        "XENO_DELIVERY_CLAIM_IDLE_MS": "5000",
        "XENO_PIPELINE_RETRY_BACKOFF_S": "2",
        "XENO_PIPELINE_RETRY_BACKOFF_MAX_S": "20",
        "XENO_RECEIPT_RECONCILE_AFTER_S": "20",
        "XENO_RECEIPT_RECONCILE_EVERY_S": "5",
        "XENO_QUIET_HOURS_START": "",  # every message may go now, whatever the hour
        "XENO_QUIET_HOURS_END": "",
        "XENO_FREQUENCY_CAP": "0",
        "XENO_RATE_LIMITS_ENABLED": "false",
    }
    rng = random.Random(args.seed)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the product too, as Ctrl-C does
    data_dir = Path(tempfile.mkdtemp(prefix="xeno-chaos-"))
    try:
        with xeno_up(data_dir, settings_env) as product:
            try:
                figures = run(product, args, key, rng)
            finally:
                if args.log:
                    args.log.write_text("".join(product.output))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    report({"bench": "chaos", **figures})


def run(product: Product, args: argparse.Namespace, key: str, rng: random.Random) -> dict[str, Any]:
    chaos = Chaos(product, rng)
    chunks = requests_to_send(args.customers, args.orders, args.events)
    records = args.customers + args.orders + args.events
    started = time.monotonic()
    say(f"ingesting {records:,} records in {len(chunks):,} requests, and {args.poisoned} poisoned entries")
    ingest_targets = ["api", "run-worker", "run-worker", "dagster-code-server"]
    with chaos.running(ingest_targets, every_s=(2, 5), until=max(args.kills // 2, 1)):
        poisoned, good = poison(args.poisoned)
        accepted = asyncio.run(post_all(product.api_url, key, chunks))
        say(f"the API accepted {accepted.total:,} records ({accepted.retries:,} requests sent again)")
        wait_until(lambda: ingest_settled(accepted, good), "every accepted record to be applied", args.settle_timeout_s)
        wait_until(lambda: features_current(get_engine()), "the features of them all", args.settle_timeout_s)

    draft = CampaignDraft("Chaos", "sms", "Hi {{ first_name | default('there') }}!", audience_rule=EVERYONE)
    campaign_id = create_campaign(get_engine(), draft, base_catalog())
    schedule_campaign(get_engine(), campaign_id)
    say(f"campaign {campaign_id} scheduled to everyone")
    with chaos.running(["api", "deliver", "deliver", "run-worker"], every_s=(2, 5), until=args.kills):
        wait_until(lambda: campaign_settled(campaign_id), "the campaign's messages to be final", args.settle_timeout_s)
    wait_until(lambda: campaign_settled(campaign_id) and ingest_settled(accepted, good), "all to be settled", 60)
    settled = time.monotonic()
    last_kill = max((moment for moment, _ in chaos.kills), default=started)
    recovery_s = max(settled - last_kill, 0.0)
    return figures(product, chaos, accepted, good, poisoned, campaign_id, recovery_s, time.monotonic() - started)


def figures(
    product: Product, chaos: Chaos, accepted: Accepted, good: set[str], poisoned: int, campaign_id: int,
    recovery_s: float, total_s: float,
) -> dict[str, Any]:  # fmt: skip
    customers, customers_doubled = keys_in("customers", "external_id")
    orders, orders_doubled = keys_in("orders", "external_id")
    events, events_doubled = keys_in("events", "message_id")
    log_rows = scalar("SELECT count(*) FROM communication_log WHERE campaign_id = :id", id=campaign_id)
    log_doubled = log_rows - scalar(
        "SELECT count(DISTINCT customer_id) FROM communication_log WHERE campaign_id = :id", id=campaign_id
    )
    acknowledged = (accepted.customers | good, accepted.orders, accepted.events)
    applied = sum(len(keys & found) for keys, found in zip(acknowledged, (customers, orders, events), strict=True))
    vendor = httpx.get(f"{product.vendor_url}/v1/stats", timeout=30).json()
    handed_over = scalar(
        "SELECT count(*) FROM communication_log WHERE campaign_id = :id AND vendor_message_id IS NOT NULL",
        id=campaign_id,
    )
    runs = recent_runs(get_settings().model_copy(update={"dagster_url": product.dagster_url}), limit=500)
    if runs.unavailable:
        say(runs.unavailable)
    return {
        "kills": len(chaos.kills),
        "killed": sorted({name for _, name in chaos.kills}),
        "accepted": sum(len(keys) for keys in acknowledged),
        "applied": applied,
        "lost": sum(len(keys) for keys in acknowledged) - applied,
        "duplicated": customers_doubled + orders_doubled + events_doubled + log_doubled,
        "poisoned": poisoned,
        "dead_lettered": scalar("SELECT count(*) FROM ingest_dead_letters"),
        "messages": log_rows,
        "sent_twice": max(vendor["sent"] - handed_over, 0),
        "not_final": scalar(
            "SELECT count(*) FROM communication_log WHERE status NOT IN ('delivered', 'failed', 'skipped')"
        ),
        "stuck_campaigns": scalar(STUCK),
        "dagster_runs_failed": None if runs.unavailable else len(runs.failed),
        "receipts_dropped_by_vendor": vendor["receipts_dropped"],
        "recovery_s": round(recovery_s, 1),
        "total_s": round(total_s, 1),
    }


if __name__ == "__main__":
    main()
