"""Overload slows the API down but never answers 5xx; only a client over its own limit hears 429, and only a
server out of reach is a 503 (with `Retry-After`).

The API runs under uvicorn with pools far smaller than the crowd hitting it (2 Redis and 2 Postgres
connections, 50 requests at once per route), so every request has to wait for a connection.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson
import redis
from sqlalchemy import Engine

from api.main import create_app
from engine.campaigns.receipts import STREAM as RECEIPTS
from engine.connections import reset_connections
from engine.settings import get_settings
from engine.webhooks import generate_secret, sign
from tests.api.vendor.loopback import serve
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
