"""Overload slows the API down but never answers 5xx; only a client over its own limit hears 429, and only a
server out of reach, or a pool whose every connection stays busy past the pool timeout, is a 503 (with
`Retry-After`).

The API runs under uvicorn with pools far smaller than the crowd hitting it (2 Redis and 2 Postgres
connections, 50 requests at once per route, live event streams polling beside them), so every request has to
wait for a connection.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson
import redis
from sqlalchemy import Engine

from api.main import create_app
from engine.campaigns.receipts import STREAM as RECEIPTS
from engine.connections import get_engine, reset_connections
from engine.settings import get_settings
from engine.webhooks import generate_secret, sign
from tests.api.vendor.loopback import serve
from tests.engine.campaigns.helpers import new_campaign
from tests.fixtures.users import auth_headers

CROWD = 50
SECRET = generate_secret()
TINY_POOLS = {"REDIS_MAX_CONNECTIONS": "2", "DB_POOL_SIZE": "2", "DB_MAX_OVERFLOW": "0"}


@contextmanager
def environment(**variables: str) -> Iterator[None]:
    """These settings (and fresh pools built from them) for the duration."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    get_settings.cache_clear()
    reset_connections()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()
        reset_connections()


@contextmanager
def running_api(**variables: str) -> Iterator[str]:
    """The API under uvicorn, built with `variables` set (and taking receipts signed with SECRET); its URL."""
    with environment(XENO_RECEIPTS_WEBHOOK_SECRET=SECRET, **variables), serve(create_app()) as url:
        yield url


async def crowd(count: int, request: Callable[[httpx.AsyncClient, int], Any]) -> list[httpx.Response]:
    """`count` requests at once, each on its own connection."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        return await asyncio.gather(*(request(client, n) for n in range(count)))


def statuses(answers: list[httpx.Response]) -> Counter[int]:
    return Counter(answer.status_code for answer in answers)


def track(url: str, write_key: str) -> Callable[[httpx.AsyncClient, int], Any]:
    def request(client: httpx.AsyncClient, n: int) -> Any:
        event = {"userId": f"user-{n}", "event": "Product Viewed", "messageId": f"overload-{n}"}
        return client.post(f"{url}/v1/track", json=event, auth=(write_key, ""))

    return request


def receipts(url: str) -> Callable[[httpx.AsyncClient, int], Any]:
    def request(client: httpx.AsyncClient, n: int) -> Any:
        body = orjson.dumps(
            {"vendor_message_id": f"vm_{n}", "reference": n, "status": "delivered",
             "occurred_at": "2026-11-25T12:00:01.250Z"}
        )  # fmt: skip
        headers = {**sign(SECRET, f"msg_overload_{n}", int(time.time()), body), "content-type": "application/json"}
        return client.post(f"{url}/v1/receipts", content=body, headers=headers)

    return request


def campaign_history(url: str, headers: dict[str, str]) -> Callable[[httpx.AsyncClient, int], Any]:
    def request(client: httpx.AsyncClient, n: int) -> Any:
        return client.get(f"{url}/v1/campaigns", headers=headers)

    return request


def test_a_crowd_larger_than_the_redis_and_postgres_pools_waits_instead_of_getting_5xx(
    database: Engine, redis_client: redis.Redis, write_key: str
) -> None:
    headers = auth_headers(database, "viewer")
    with running_api(**TINY_POOLS) as url:
        ingested = asyncio.run(crowd(CROWD, track(url, write_key)))
        receipted = asyncio.run(crowd(CROWD, receipts(url)))
        listed = asyncio.run(crowd(CROWD, campaign_history(url, headers)))

    assert statuses(ingested) == {200: CROWD}, [a.text for a in ingested if a.status_code != 200][:3]
    assert statuses(receipted) == {202: CROWD}, [a.text for a in receipted if a.status_code != 202][:3]
    assert statuses(listed) == {200: CROWD}, [a.text for a in listed if a.status_code != 200][:3]
    settings = get_settings()
    assert redis_client.xlen(settings.stream("ingest")) == CROWD
    assert redis_client.xlen(settings.stream(RECEIPTS)) == CROWD


def test_sync_routes_take_no_more_threads_than_there_are_postgres_connections(
    database: Engine, redis_client: redis.Redis
) -> None:
    headers = auth_headers(database, "viewer")
    barely_waits = {"POOL_TIMEOUT_S": "0.05", "XENO_RATE_LIMITS_ENABLED": "false"}
    with running_api(**TINY_POOLS, **barely_waits) as url:
        listed = asyncio.run(crowd(CROWD, campaign_history(url, headers)))

    assert statuses(listed) == {200: CROWD}, [a.text for a in listed if a.status_code != 200][:3]


async def watching(url: str, headers: dict[str, str], paths: list[str], while_watching: Awaitable[None]) -> list[str]:
    """Open an event stream on each of `paths`, await `while_watching` once every stream has answered, let each poll
    once more, and say how each stream fared: `open` still, or why it ended."""
    limits = httpx.Limits(max_connections=len(paths), max_keepalive_connections=len(paths))
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        answered = [asyncio.Event() for _ in paths]

        async def watch(n: int, path: str) -> str:
            try:
                async with client.stream("GET", f"{url}{path}", headers=headers) as response:
                    answered[n].set()
                    async for _ in response.aiter_bytes():
                        pass
                    return f"ended after {response.status_code}"
            except httpx.HTTPError as error:
                return f"broke off: {error!r}"
            finally:
                answered[n].set()

        watchers = [asyncio.create_task(watch(n, path)) for n, path in enumerate(paths)]
        await asyncio.gather(*(event.wait() for event in answered))
        await while_watching
        await asyncio.sleep(1.5)  # every stream polls once more after the crowd
        for watcher in watchers:
            watcher.cancel()
        ends = await asyncio.gather(*watchers, return_exceptions=True)
        return ["open" if isinstance(end, asyncio.CancelledError) else str(end) for end in ends]


def test_live_event_streams_take_no_threads_beyond_the_postgres_pool(
    database: Engine, redis_client: redis.Redis
) -> None:
    headers = auth_headers(database, "viewer")
    campaigns = [new_campaign(database) for _ in range(10)]
    paths = [f"/v1/campaigns/{campaign}/events" for campaign in campaigns] + ["/v1/notifications/stream"] * 10
    barely_waits = {"POOL_TIMEOUT_S": "0.05", "XENO_RATE_LIMITS_ENABLED": "false"}
    with running_api(**TINY_POOLS, **barely_waits) as url:
        listed: list[httpx.Response] = []

        async def list_campaigns() -> None:
            for _ in range(3):
                listed.extend(await crowd(CROWD, campaign_history(url, headers)))

        streams = asyncio.run(watching(url, headers, paths, list_campaigns()))

    assert statuses(listed) == {200: 3 * CROWD}, [a.text for a in listed if a.status_code != 200][:3]
    assert streams == ["open"] * len(paths)


def test_every_postgres_connection_busy_past_the_pool_timeout_is_a_503_with_retry_after(
    database: Engine, redis_client: redis.Redis
) -> None:
    headers = auth_headers(database, "viewer")
    with running_api(**TINY_POOLS, POOL_TIMEOUT_S="0.2") as url, get_engine().connect(), get_engine().connect():
        answers = asyncio.run(crowd(3, campaign_history(url, headers)))

    assert statuses(answers) == {503: 3}, [a.text for a in answers][:3]
    assert {answer.json()["error"] for answer in answers} == {"unavailable"}
    assert all("Postgres" in answer.json()["detail"] and int(answer.headers["retry-after"]) > 0 for answer in answers)


def test_a_write_key_over_its_rate_limit_hears_429_with_retry_after_and_the_rest_are_accepted(
    database: Engine, redis_client: redis.Redis, write_key: str
) -> None:
    with running_api(XENO_RATE_LIMIT_INGEST="20/minute", **TINY_POOLS) as url:
        answers = asyncio.run(crowd(CROWD, track(url, write_key)))

    assert statuses(answers) == {200: 20, 429: CROWD - 20}
    refused = [answer for answer in answers if answer.status_code == 429]
    assert all(int(answer.headers["retry-after"]) > 0 for answer in refused)
    assert {answer.json()["error"] for answer in refused} == {"rate_limited"}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_redis_out_of_reach_is_a_503_with_retry_after(
    database: Engine, redis_client: redis.Redis, write_key: str
) -> None:
    with running_api(REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0") as url:
        answers = asyncio.run(crowd(3, track(url, write_key))) + asyncio.run(crowd(3, receipts(url)))

    assert statuses(answers) == {503: 6}
    assert {answer.json()["error"] for answer in answers} == {"unavailable"}
    assert all("Redis" in answer.json()["detail"] and int(answer.headers["retry-after"]) > 0 for answer in answers)


def test_postgres_out_of_reach_is_a_503_with_retry_after(database: Engine, redis_client: redis.Redis) -> None:
    headers = auth_headers(database, "viewer")
    with running_api(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed_port()}/xeno") as url:
        answers = asyncio.run(crowd(3, campaign_history(url, headers)))

    assert statuses(answers) == {503: 3}
    assert all("Postgres" in answer.json()["detail"] and int(answer.headers["retry-after"]) > 0 for answer in answers)
