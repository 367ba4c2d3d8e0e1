"""The GCRA rate limiter on Redis: a full allowance at once, then one more per interval, per bucket."""

from __future__ import annotations

import asyncio
import time

import redis
import redis.asyncio

from engine.auth.ratelimit import RateDecision, RateLimiter
from engine.settings import get_settings


def hits(bucket: str, count: int, limit: int, period: int) -> list[RateDecision]:
    async def run() -> list[RateDecision]:
        client = redis.asyncio.Redis.from_url(get_settings().redis_address)
        try:
            limiter = RateLimiter(client)
            key = get_settings().redis_key(f"ratelimit:{bucket}")
            return [await limiter.hit(key, limit, period) for _ in range(count)]
        finally:
            await client.aclose()

    return asyncio.run(run())


def test_the_whole_allowance_can_be_spent_at_once_then_requests_wait(redis_client: redis.Redis) -> None:
    decisions = hits("read:user:1", 7, limit=5, period=60)

    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 2
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0, 0]
    refused = decisions[-1]
    assert refused.retry_after_seconds == 12  # one request comes back every 60 / 5 seconds
    assert refused.headers()["Retry-After"] == "12"
    assert refused.headers()["RateLimit-Limit"] == "5"
    assert refused.headers()["RateLimit-Reset"] == "60"
    assert "Retry-After" not in decisions[0].headers()


def test_buckets_do_not_share_an_allowance(redis_client: redis.Redis) -> None:
    hits("read:user:1", 3, limit=3, period=60)

    assert hits("read:user:2", 1, limit=3, period=60)[0].allowed
    assert hits("write:user:1", 1, limit=3, period=60)[0].allowed
    assert not hits("read:user:1", 1, limit=3, period=60)[0].allowed


def test_the_allowance_comes_back_one_request_per_interval(redis_client: redis.Redis) -> None:
    assert all(d.allowed for d in hits("ai:user:1", 4, limit=4, period=1))
    assert not hits("ai:user:1", 1, limit=4, period=1)[0].allowed

    time.sleep(0.3)  # a little more than one interval of 1 / 4 s

    assert [d.allowed for d in hits("ai:user:1", 2, limit=4, period=1)] == [True, False]


def test_the_bucket_expires_from_redis_once_full_again(redis_client: redis.Redis) -> None:
    hits("auth:ip:127.0.0.1", 1, limit=10, period=60)

    assert 0 < redis_client.pttl(get_settings().redis_key("ratelimit:auth:ip:127.0.0.1")) <= 6_000


def test_a_busy_bucket_spends_exactly_its_allowance_across_processes_that_lease_requests(
    redis_client: redis.Redis,
) -> None:
    async def run() -> list[RateDecision]:
        client = redis.asyncio.Redis.from_url(get_settings().redis_address)
        try:
            processes = [RateLimiter(client), RateLimiter(client)]  # each leases up to 10 requests at once
            key = get_settings().redis_key("ratelimit:ingest:key:1")
            return [await processes[n % 2].hit(key, 1000, 86_400) for n in range(1100)]  # none back during the test
        finally:
            await client.aclose()

    decisions = asyncio.run(run())

    assert sum(d.allowed for d in decisions) == 1000
    assert not any(d.allowed for d in decisions[1010:])


def test_an_expired_lease_is_not_spent_and_a_bucket_asked_again_starts_with_one(redis_client: redis.Redis) -> None:
    now = [0.0]

    async def run() -> tuple[list[RateDecision], list[RateDecision]]:
        client = redis.asyncio.Redis.from_url(get_settings().redis_address)
        try:
            limiter = RateLimiter(client, clock=lambda: now[0])
            key = get_settings().redis_key("ratelimit:ingest:key:2")
            busy = [await limiter.hit(key, 1000, 60) for _ in range(4)]  # leases of 1, 2, then 4: 3 left unspent
            now[0] += 2
            return busy, [await limiter.hit(key, 1000, 60) for _ in range(2)]
        finally:
            await client.aclose()

    busy, later = asyncio.run(run())

    assert [d.remaining for d in busy] == [999, 998, 997, 996]
    assert [d.remaining for d in later] == [992, 991]  # the 3 unspent are gone; then leases of 1 and 2 again
