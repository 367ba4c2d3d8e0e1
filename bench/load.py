"""Load benchmark: the API held at `--concurrency` connections per route; overload may slow it, never 5xx it.

One route at a time, for `--duration` seconds each, `--concurrency` aiohttp connections keep one request in
flight each:

- ingest: `POST /v1/track` with one write key, one event per request (past the key's rate limit: 429s);
- preview: `POST /v1/segments/preview` of a four-clause rule by signed-in analysts (one per connection, so
  their read limits do not bind), over a published feature snapshot of `--customers` synthetic customers;
- receipts: `POST /v1/receipts`, one receipt per callback, signed per Standard Webhooks.

Per route: requests per second, p50 and p99 latency, answers by status and the count of 5xx (client-side
failures such as timeouts are counted by exception name). Then "every accepted request is durable": every
event id an ingest answer accepted is in an entry on the ingest stream, and every accepted receipt is on the
receipts stream (nothing consumes the streams during the run). The machine's load average is reported too.

    python -m bench.load [--concurrency 200] [--duration 60] [--customers 100000] [--api-workers 1] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson

from bench.common import analyst_tokens, api_process, report, use_fresh_services
from bench.segments import RULE, publish_synthetic_snapshot
from engine import streams
from engine.campaigns.receipts import STREAM as RECEIPTS
from engine.connections import get_engine, get_redis
from engine.keys import create_key
from engine.services.supervisor import free_port
from engine.settings import get_settings
from engine.webhooks import generate_secret, sign

Request = tuple[str, bytes, dict[str, str]]
"""A request to post: path, body and headers."""
NextRequest = Callable[[int], Request]
"""The next request of a connection (numbered from 0)."""
Accepted = Callable[[bytes, bytes], Iterator[str]]
"""What a 2xx answer (to a request body) says the API took: ids to find on a stream afterwards."""


@dataclass
class RouteLoad:
    """What one route answered under load."""

    name: str
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    accepted: set[str] = field(default_factory=set)  # what its 2xx answers say they took

    def figures(self) -> dict[str, Any]:
        latencies = sorted(self.latencies_ms)
        fives = sum(count for status, count in self.statuses.items() if status.startswith("5"))
        return {
            f"{self.name}_requests": len(latencies),
            f"{self.name}_rps": round(len(latencies) / self.seconds, 1),
            f"{self.name}_p50_ms": round(percentile(latencies, 0.50), 1),
            f"{self.name}_p99_ms": round(percentile(latencies, 0.99), 1),
            f"{self.name}_status": dict(sorted(self.statuses.items())),
            f"{self.name}_5xx": fives,
        }


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else 0.0


async def hold(url: str, route: RouteLoad, concurrency: int, duration_s: float, next_request: NextRequest,
               accepted: Accepted) -> None:  # fmt: skip
    """Keep `concurrency` requests in flight for `duration_s`, each connection posting as soon as it has its
    answer; record every answer's status and latency, and what the 2xx answers accepted."""
    deadline = time.monotonic() + duration_s
    timeout = aiohttp.ClientTimeout(total=300)  # overload may slow answers down; only an outage should stop them

    async def connection(session: aiohttp.ClientSession, lane: int) -> None:
        while time.monotonic() < deadline:
            path, body, headers = next_request(lane)
            started = time.perf_counter()
            try:
                async with session.post(f"{url}{path}", data=body, headers=headers) as response:
                    answer = await response.read()
                    status = str(response.status)
            except (aiohttp.ClientError, TimeoutError) as error:
                status, answer = type(error).__name__, b""
            route.latencies_ms.append((time.perf_counter() - started) * 1000)
            route.statuses[status] += 1
            if status.startswith("2"):
                route.accepted.update(accepted(body, answer))

    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(connection(session, lane) for lane in range(concurrency)))
    route.seconds = time.perf_counter() - started


def ingest_requests(key: str) -> NextRequest:
    """One `track` event per request, all with the same write key."""
    headers = {"Content-Type": "application/json", "Authorization": aiohttp.encode_basic_auth(key, "")}
    numbers = itertools.count()

    def request(_: int) -> Request:
        n = next(numbers)
        event = {"userId": f"user-{n % 10_000}", "event": "Product Viewed", "messageId": f"load-{n}",
                 "properties": {"sku": f"SKU-{n % 97}"}}  # fmt: skip
        return "/v1/track", orjson.dumps(event), headers

    return request


def ingest_accepted(_: bytes, answer: bytes) -> Iterator[str]:
    yield from orjson.loads(answer)["ids"]


def preview_requests(tokens: list[str]) -> NextRequest:
    """The same rule, each connection as its own analyst."""
    body = orjson.dumps({"rule": RULE, "sample_size": 10})
    headers = [{"Content-Type": "application/json", "Authorization": f"Bearer {token}"} for token in tokens]
    return lambda lane: ("/v1/segments/preview", body, headers[lane % len(headers)])


def nothing_kept(_: bytes, __: bytes) -> Iterator[str]:
    return iter(())


def receipt_requests(secret: str) -> NextRequest:
    """One receipt per callback, each under its own webhook id."""
    numbers = itertools.count()

    def request(_: int) -> Request:
        n = next(numbers)
        body = orjson.dumps({"vendor_message_id": f"vm_load_{n}", "reference": n, "status": "delivered",
                             "occurred_at": "2026-11-25T12:00:00Z"})  # fmt: skip
        headers = {"Content-Type": "application/json", **sign(secret, f"msg_load_{n}", int(time.time()), body)}
        return "/v1/receipts", body, headers

    return request


def receipt_accepted(body: bytes, answer: bytes) -> Iterator[str]:
    """The answer only counts, so the accepted receipt is named by the request's reference."""
    if not orjson.loads(answer)["duplicate"]:
        yield str(orjson.loads(body)["reference"])


def stream_payloads(stream: str) -> Iterator[Any]:
    """Every entry's payload on `stream`, oldest first."""
    client, start = get_redis(), "-"
    while True:
        entries: Any = client.xrange(stream, min=start, count=10_000)
        if not entries:
            return
        for _, fields in entries:
            yield orjson.loads(fields[streams.PAYLOAD])
        start = f"({streams.entry_id_text(entries[-1][0])}"


def warm_up(url: str, first_preview: Request) -> None:
    """One preview before the load, so the API has loaded the snapshot (only the very first request waits)."""
    path, body, headers = first_preview
    answer = httpx.post(f"{url}{path}", content=body, headers=headers, timeout=300)
    if answer.status_code != 200:
        raise RuntimeError(f"the first preview answered {answer.status_code}: {answer.text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=200, help="connections held open per route")
    parser.add_argument("--duration", type=float, default=60, help="seconds of load per route")
    parser.add_argument("--customers", type=int, default=100_000, help="customers in the previewed snapshot")
    parser.add_argument("--api-workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--quick", action="store_true", help="10 s per route: under a minute")
    args = parser.parse_args()
    duration = 10.0 if args.quick else args.duration

    use_fresh_services("xeno_bench_load", redis_db=12)
    secret = generate_secret()
    os.environ["XENO_RECEIPTS_WEBHOOK_SECRET"] = secret
    get_settings.cache_clear()
    key = create_key(get_engine(), "load").secret
    tokens = analyst_tokens(args.concurrency)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    routes: dict[str, tuple[NextRequest, Accepted]] = {
        "ingest": (ingest_requests(key), ingest_accepted),
        "preview": (preview_requests(tokens), nothing_kept),
        "receipts": (receipt_requests(secret), receipt_accepted),
    }
    loads = {name: RouteLoad(name) for name in routes}
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        publish_synthetic_snapshot(args.customers, Path(folder))
        print(f"a snapshot of {args.customers:,} customers published in {time.perf_counter() - started:.1f} s")
        with api_process(port, args.api_workers):
            started = time.perf_counter()
            warm_up(url, routes["preview"][0](0))
            print(f"the API started and loaded it in {time.perf_counter() - started:.1f} s", flush=True)
            for name, (next_request, accepted) in routes.items():
                asyncio.run(hold(url, loads[name], args.concurrency, duration, next_request, accepted))
                print(f"{name:>9}: {loads[name].figures()}", flush=True)
            load_average = os.getloadavg()
    settings = get_settings()
    on_ingest_stream = {event["message_id"] for batch in stream_payloads(settings.stream("ingest"))
                        for event in batch["events"]}  # fmt: skip
    on_receipts_stream = {str(receipt["reference"]) for receipt in stream_payloads(settings.stream(RECEIPTS))}
    ingest, receipts = loads["ingest"].accepted, loads["receipts"].accepted
    durable = ingest <= on_ingest_stream and receipts <= on_receipts_stream
    report({
        "bench": "load",
        "concurrency": args.concurrency,
        "duration_s": duration,
        "customers": args.customers,
        "api_workers": args.api_workers,
        **{name: value for load in loads.values() for name, value in load.figures().items()},
        "ingest_accepted": len(ingest),
        "ingest_accepted_on_stream": len(ingest & on_ingest_stream),
        "receipts_accepted": len(receipts),
        "receipts_accepted_on_stream": len(receipts & on_receipts_stream),
        "durable": durable,
        "load_average": [round(value, 2) for value in load_average],
        "cpus": os.cpu_count(),
    })  # fmt: skip


if __name__ == "__main__":
    main()
