"""Posting to a provider's HTTP API with retries: the policy every HTTP transport shares.

Timeouts, connection errors, 408, 425, 429 (its Retry-After honoured) and 5xx are retried with exponential backoff
and jitter, up to `delivery_max_attempts`; 401, 403, 404 and 405 mean the provider refuses the sender itself
(credentials, URL), which no message is to blame for (`ProviderMisconfigured`). Transports send an
`Idempotency-Key` derived from the messages' own keys, so a provider that honours it sends a retried request's
messages once, even when the first request's answer was lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import aiohttp
import orjson

from engine.campaigns.failures import NOT_ACCEPTED, RETRYABLE_STATUSES
from engine.channels.base import Outgoing
from engine.channels.transports.base import Outcome, ProviderMisconfigured, coded_reason
from engine.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
MISCONFIGURED_STATUSES = frozenset({401, 403, 404, 405})
IDEMPOTENCY_KEY = "Idempotency-Key"  # the request header (IETF httpapi draft, as Stripe-style APIs take it)
ErrorReader = Callable[[bytes], tuple[object, str | None]]
"""Reads a provider's error code and words from the body of its refusal."""


def batch_key(messages: list[Outgoing]) -> str:
    """One idempotency key for a request carrying several messages: the same for the same messages in the same order
    (a retry, or the entry posted again after its answer was lost); the order counts, as the answer is by position."""
    keys = "\n".join(message.key for message in messages)
    return "xeno-batch-" + hashlib.sha256(keys.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Answer:
    """A provider's last answer: its status (None: no answer, a timeout or connection error) and body."""

    status: int | None
    body: bytes
    attempts: int
    problem: str | None = None  # why the last attempt failed

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in RETRYABLE_STATUSES

    def not_accepted(self) -> str:
        """The reason of a message no attempt got the provider to take (transient: "retry the failed" re-sends it
        under the same key)."""
        return f"{NOT_ACCEPTED}{self.attempts} attempts ({self.problem})"

    def refusal(self, detail: str | None = None) -> str:
        """The reason of a message the provider refused, with its own words when it gave them."""
        if detail is None:
            try:
                found = orjson.loads(self.body)
                detail = found.get("detail") or found.get("message") if isinstance(found, dict) else None
            except orjson.JSONDecodeError:
                detail = None
            detail = detail or self.body[:200].decode(errors="replace")
        return f"refused by the vendor ({self.status}): {detail}"


def retry_after_seconds(value: str | None, now: float | None = None) -> float:
    """A Retry-After header (seconds, or an HTTP date) as seconds from now; 0 when absent or unreadable."""
    if not value:
        return 0.0
    if value.strip().isdigit():
        return float(value.strip())
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def backoff_seconds(attempt: int, settings: Settings, retry_after: float = 0.0) -> float:
    """The wait after failed attempt number `attempt` (1-based): exponential with jitter, at least Retry-After."""
    ceiling = min(settings.delivery_backoff_max_s, settings.delivery_backoff_s * 2 ** (attempt - 1))
    return max(retry_after, ceiling / 2 + random.random() * ceiling / 2)


async def post_with_retries(
    session: aiohttp.ClientSession,
    settings: Settings,
    url: str,
    *,
    data: bytes | dict[str, str],
    headers: dict[str, str],
) -> Answer:
    """POST until the provider answers something final or the attempts run out; its last answer."""
    attempt = 0
    while True:
        attempt += 1
        retry_after = 0.0
        try:
            async with session.post(url, data=data, headers=headers) as response:
                body = await response.read()
                status: int | None = response.status
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            problem = f"HTTP {status}"
        except (aiohttp.ClientError, TimeoutError) as error:
            status, body, problem = None, b"", type(error).__name__
        if status in MISCONFIGURED_STATUSES:
            raise ProviderMisconfigured(f"{url} answered {status}: {body[:200]!r}")
        answer = Answer(status, body, attempt, problem)
        if not answer.retryable or attempt >= settings.delivery_max_attempts:
            return answer
        await asyncio.sleep(backoff_seconds(attempt, settings, retry_after))


def one_message_outcome(
    log_id: int,
    answer: Answer,
    provider_id: Callable[[bytes], str],
    reasons: Mapping[int, str] | None = None,
    error: ErrorReader | None = None,
) -> Outcome:
    """What became of a message posted on its own: taken, with the id `provider_id` reads from the answer; not
    accepted after every attempt; or refused, in the words of the provider's `reasons` for the code `error` reads
    from the answer where the table has it, else in the provider's own words."""
    outcome = Outcome(attempts=answer.attempts)
    if answer.ok:
        outcome.sent.append((log_id, provider_id(answer.body)))
    elif answer.retryable:
        outcome.failed.append((log_id, answer.not_accepted()))
    else:
        code, words = error(answer.body) if error else (None, None)
        outcome.failed.append((log_id, coded_reason(reasons or {}, code, words) or answer.refusal(words)))
    return outcome


async def send_each(messages: Sequence[T], send_one: Callable[[T], Awaitable[Outcome]], concurrency: int) -> Outcome:
    """For providers that take one message (or one run of messages) per request: send a batch's messages side by
    side, `concurrency` at a time, as one outcome. Once one raises (the provider refuses the sender itself), no
    other starts, and those under way are cancelled, so as few as can be have gone out when the batch is given
    back to be tried again."""
    gate = asyncio.Semaphore(concurrency)
    refused: list[BaseException] = []

    async def gated(message: T) -> Outcome:
        async with gate:
            if refused:
                raise refused[0]
            try:
                return await send_one(message)
            except BaseException as problem:
                refused.append(problem)
                raise

    tasks = [asyncio.ensure_future(gated(message)) for message in messages]
    try:
        singles = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        raise
    outcome = Outcome()
    for single in singles:
        outcome.add(single)
    return outcome


async def get_json(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> tuple[int | None, Any]:
    """One GET (a status lookup, not retried: the reconciler asks again later): its status (None: no answer) and
    its JSON body (None when not JSON)."""
    try:
        async with session.get(url, headers=headers) as response:
            body = await response.read()
            status: int | None = response.status
    except (aiohttp.ClientError, TimeoutError) as error:
        log.warning("status lookup: %s did not answer: %r", url, error)
        return None, None
    if status != 200:
        log.warning("status lookup: %s answered %s: %r", url, status, body[:200])
    try:
        return status, orjson.loads(body)
    except orjson.JSONDecodeError:
        return status, None


async def gather_bounded(calls: list[Coroutine[Any, Any, T]], concurrency: int) -> list[T]:
    """The results of `calls`, at most `concurrency` running at a time, in their order."""
    gate = asyncio.Semaphore(concurrency)

    async def gated(call: Coroutine[Any, Any, T]) -> T:
        async with gate:
            return await call

    return list(await asyncio.gather(*(gated(call) for call in calls)))
