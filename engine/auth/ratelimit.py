"""Rate limits on Redis with the generic cell rate algorithm (GCRA), one Lua script per check.

A limit of `count` requests per `period` lets a caller spend `count` at once and then one more every
`period / count`. The only state is one key per bucket: the theoretical arrival time of the next
request, in microseconds of the Redis server's clock, so every API process shares one view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import redis.asyncio

# Returns {allowed (0/1), remaining, microseconds until the bucket is full again, microseconds to wait}.
GCRA_SCRIPT = """
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2]) * 1000000
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = period / limit
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local next_tat = tat + interval
local allowed_at = next_tat - period
if now < allowed_at then
  return {0, 0, math.ceil(tat - now), math.ceil(allowed_at - now)}
end
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000))
return {1, math.floor((period - (next_tat - now)) / interval), math.ceil(next_tat - now), 0}
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


class RateLimiter:
    """Checks against Redis through the asyncio client of the API's request path."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._script = client.register_script(GCRA_SCRIPT)

    async def hit(self, key: str, limit: int, period_seconds: int) -> RateDecision:
        """Count one request against the bucket at Redis `key`; whether it may go ahead."""
        allowed, remaining, reset_us, retry_us = await self._script(keys=[key], args=[limit, period_seconds])
        return RateDecision(
            allowed=bool(allowed),
            limit=limit,
            period_seconds=period_seconds,
            remaining=int(remaining),
            reset_seconds=math.ceil(int(reset_us) / 1_000_000),
            retry_after_seconds=max(1, math.ceil(int(retry_us) / 1_000_000)) if not allowed else 0,
        )
