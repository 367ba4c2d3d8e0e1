"""Rate limits on Redis with the generic cell rate algorithm (GCRA), one Lua script per check.

A limit of `count` requests per `period` lets a caller spend `count` at once and then one more every
`period / count`. The only state is one key per bucket: the theoretical arrival time of the next
request, in microseconds of the Redis server's clock, so every API process shares one view.

A script call costs the API about as much CPU as validating a batch of events, so a process takes a busy bucket's
requests from Redis several at a time, as a lease: it starts with one, doubles while a lease is spent within
`LEASE_SECONDS`, up to a hundredth of the allowance (so a limit under 200 requests is always asked one by one).
A lease spends nothing beyond the allowance (Redis grants what is left), and what a lease held unspent when it
expires is lost to the caller: at most a hundredth of the allowance, once a busy caller slows down.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis.asyncio

LEASE_SECONDS = 1.0
LEASE_SHARE = 100  # a lease holds at most this fraction of the allowance
MAX_BUCKETS = 10_000  # leases kept per process before the expired ones are forgotten

# Grants up to ARGV[3] requests, as many as the allowance has room for; returns {requests granted (0 when refused),
# remaining, microseconds until the bucket is full again, microseconds to wait}.
GCRA_SCRIPT = """
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2]) * 1000000
local wanted = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = period / limit
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local room = math.floor((now + period - tat) / interval)
if room < 1 then
  return {0, 0, math.ceil(tat - now), math.ceil(tat + interval - period - now)}
end
local granted = math.min(wanted, room)
local next_tat = tat + interval * granted
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000))
return {granted, math.floor((period - (next_tat - now)) / interval), math.ceil(next_tat - now), 0}
"""


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    period_seconds: int
    remaining: int
    reset_seconds: int  # until the whole allowance is back
    retry_after_seconds: int  # 0 when allowed

    def headers(self) -> dict[str, str]:
        """The IETF draft RateLimit headers, plus `Retry-After` when refused."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
            "RateLimit-Policy": f"{self.limit};w={self.period_seconds}",
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_seconds)
        return headers


@dataclass
class _Lease:
    """Requests of one bucket this process was granted and has not spent yet."""

    requests: int = 0
    size: int = 1  # how many the last refill asked for
    expires: float = 0.0
    remaining: int = 0  # what Redis had left after granting them
    reset_seconds: int = 0
    refilling: asyncio.Event | None = field(default=None)  # set once the refill under way has its answer


class RateLimiter:
    """Checks against Redis through the asyncio client of the API's request path; one per client and process."""

    def __init__(self, client: redis.asyncio.Redis, clock: Callable[[], float] = time.monotonic) -> None:
        self._script = client.register_script(GCRA_SCRIPT)
        self._clock = clock
        self._leases: dict[str, _Lease] = {}

    async def hit(self, key: str, limit: int, period_seconds: int) -> RateDecision:
        """Count one request against the bucket at Redis `key`; whether it may go ahead."""
        lease = self._lease(key)
        while lease.refilling is not None:  # one request at a time asks Redis for a bucket; the others wait for it
            await lease.refilling.wait()
        if lease.requests and self._clock() < lease.expires:
            lease.requests -= 1
            return RateDecision(True, limit, period_seconds, lease.remaining + lease.requests, lease.reset_seconds, 0)
        lease.refilling = asyncio.Event()
        try:
            return await self._refill(lease, key, limit, period_seconds)
        finally:
            lease.refilling.set()
            lease.refilling = None

    async def _refill(self, lease: _Lease, key: str, limit: int, period_seconds: int) -> RateDecision:
        now = self._clock()
        spent_in_time = now < lease.expires  # and so this bucket is busy: ask for more at once
        lease.size = min(2 * lease.size, max(1, limit // LEASE_SHARE)) if spent_in_time else 1
        granted, remaining, reset_us, retry_us = await self._script(
            keys=[key], args=[limit, period_seconds, lease.size]
        )
        reset_seconds = math.ceil(int(reset_us) / 1_000_000)
        if not granted:
            lease.requests, lease.expires = 0, 0.0
            retry_after = max(1, math.ceil(int(retry_us) / 1_000_000))
            return RateDecision(False, limit, period_seconds, 0, reset_seconds, retry_after)
        lease.requests, lease.expires = int(granted) - 1, now + LEASE_SECONDS
        lease.remaining, lease.reset_seconds = int(remaining), reset_seconds
        return RateDecision(True, limit, period_seconds, lease.remaining + lease.requests, reset_seconds, 0)

    def _lease(self, key: str) -> _Lease:
        lease = self._leases.get(key)
        if lease is None:
            if len(self._leases) >= MAX_BUCKETS:
                now = self._clock()
                for stale in [k for k, v in self._leases.items() if v.expires <= now and v.refilling is None]:
                    del self._leases[stale]
            lease = self._leases[key] = _Lease()
        return lease
