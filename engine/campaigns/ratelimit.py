"""One delivery rate limit shared by every sender process: messages per second, paced through Redis.

Each batch reserves its messages on one Redis key (the theoretical time the next message may go, in
microseconds of the Redis clock) and waits until its turn; up to one second's worth may go at once.
Reservations are taken in order, so concurrent senders share the rate fairly and never exceed it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import redis

# Returns the microseconds the caller must wait before sending ARGV[2] messages at ARGV[1] per second.
RESERVE_SCRIPT = """
local rate = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = 1000000 / rate
local burst = math.max(count, rate) * interval
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local wait = tat - burst - now
if wait < 0 then wait = 0 end
local next_tat = tat + count * interval
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1000)
return math.ceil(wait)
"""


class DeliveryRateLimit:
    """`await limit.acquire(n)` returns once `n` more messages may be posted."""

    def __init__(
        self,
        client: redis.Redis,
        key: str,
        per_second: int,
        run: Callable[[Callable[[], int]], Awaitable[int]],
    ) -> None:
        self._script = client.register_script(RESERVE_SCRIPT)
        self._key = key
        self._per_second = per_second
        self._run = run  # runs the blocking Redis call off the event loop

    async def acquire(self, count: int) -> float:
        """Wait for the turn of `count` messages; the seconds waited."""
        wait_us = await self._run(lambda: int(self._script(keys=[self._key], args=[self._per_second, count])))
        if wait_us:
            await asyncio.sleep(wait_us / 1_000_000)
        return wait_us / 1_000_000
