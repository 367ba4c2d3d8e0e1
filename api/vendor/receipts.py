"""Posting receipts to the CRM: batched, signed per Standard Webhooks, retried with backoff.

One loop sleeps until receipts fall due (never polling an empty outbox), takes what is due, cuts it into
callbacks of `receipt_batch_size` and posts them over aiohttp with at most `receipt_concurrency` in flight
(one task per callback, never per receipt), then lingers a few milliseconds so receipts gather into full
callbacks. A callback answered 2xx is done; a 408, 425, 429, 5xx, timeout or connection error puts it back
in the outbox to be retried after an exponential backoff with jitter, under the same `webhook-id` and
body, re-signed with the time of the new attempt; any other answer, or running out of attempts, drops
its receipts (counted in the stats).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import Counter

import aiohttp
import orjson

from api.vendor.simulator import HARD_BOUNCES, Callback, Receipt, Simulator
from engine.webhooks import sign

log = logging.getLogger(__name__)

GATHER_S = 0.01
RETRYABLE_STATUSES = frozenset({408, 425, 429}) | frozenset(range(500, 600))


def receipt_json(receipt: Receipt) -> dict[str, object]:
    """A receipt as posted; a failed one says whether its failure is `permanent` (null for the others)."""
    vendor_message_id, reference, status, reason, occurred_at = receipt
    return {
        "vendor_message_id": vendor_message_id,
        "reference": reference,
        "status": status,
        "reason": reason,
        "permanent": reason in HARD_BOUNCES if status == "failed" else None,
        "occurred_at": occurred_at,
    }


def new_callback(receipts: list[Receipt], *, single: bool) -> Callback:
    """A callback for `receipts`: a JSON object when `single`, else a JSON list."""
    payload: object = receipt_json(receipts[0]) if single else [receipt_json(r) for r in receipts]
    return Callback(webhook_id=f"msg_{secrets.token_hex(12)}", body=orjson.dumps(payload), receipts=receipts)


class ReceiptDispatcher:
    """Runs for the life of the app, posting what the simulator's outbox says is due."""

    def __init__(self, simulator: Simulator, url: str, secret: str) -> None:
        self._simulator = simulator
        self._url = url
        self._secret = secret
        config = simulator.config
        self._slots = asyncio.Semaphore(config.receipt_concurrency)
        self._timeout = aiohttp.ClientTimeout(total=config.receipt_timeout_s)
        self._in_flight: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        connector = aiohttp.TCPConnector(limit=self._simulator.config.receipt_concurrency)
        async with aiohttp.ClientSession(connector=connector, timeout=self._timeout) as session:
            try:
                while True:
                    for callback in self._due_callbacks():
                        await self._slots.acquire()
                        task = asyncio.create_task(self._post(session, callback))
                        self._in_flight.add(task)
                        task.add_done_callback(self._in_flight.discard)
                    await asyncio.sleep(GATHER_S)
                    await self._simulator.outbox.wait_until_due()
            finally:
                for task in self._in_flight:
                    task.cancel()
                await asyncio.gather(*self._in_flight, return_exceptions=True)

    def _due_callbacks(self) -> list[Callback]:
        simulator = self._simulator
        receipts, callbacks = simulator.outbox.take_due(time.monotonic())
        faults = simulator.faults
        size = faults.receipt_batch_size
        for start in range(0, len(receipts), size):
            chunk = receipts[start : start + size]
            if faults.out_of_order_rate:
                simulator.rng.shuffle(chunk)
            callbacks.append(new_callback(chunk, single=size == 1))
        return callbacks

    async def _post(self, session: aiohttp.ClientSession, callback: Callback) -> None:
        try:
            callback.attempts += 1
            headers = sign(self._secret, callback.webhook_id, int(time.time()), callback.body)
            headers["content-type"] = "application/json"
            try:
                async with session.post(self._url, data=callback.body, headers=headers) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.debug("receipt callback %s failed: %r", callback.webhook_id, exc)
                status = None
            self._simulator.outbox.posted(callback)
            self._settle(callback, status)
        finally:
            self._slots.release()

    def _settle(self, callback: Callback, status: int | None) -> None:
        simulator = self._simulator
        counters = simulator.counters
        if status is not None and 200 <= status < 300:
            counters.callbacks_posted += 1
            counters.receipts_posted += len(callback.receipts)
            counters.receipts_posted_by_status.update(Counter(r[2] for r in callback.receipts))
            if simulator.rng.random() < simulator.faults.redelivery_rate:
                callback.attempts = 0
                redelivery_due = time.monotonic() + simulator.faults.receipt_delay_ms / 1000
                simulator.outbox.add_callback(redelivery_due, callback)
            return
        counters.callback_failures += 1
        retryable = status is None or status in RETRYABLE_STATUSES
        if not retryable or callback.attempts >= simulator.config.receipt_max_attempts:
            log.warning(
                "dropping %d receipts of callback %s after %d attempts (last status %s)",
                len(callback.receipts),
                callback.webhook_id,
                callback.attempts,
                status,
            )
            counters.receipts_dropped += len(callback.receipts)
            return
        config = simulator.config
        ceiling = min(config.receipt_backoff_max_s, config.receipt_backoff_s * 2 ** (callback.attempts - 1))
        backoff = ceiling / 2 + simulator.rng.random() * ceiling / 2
        simulator.outbox.add_callback(time.monotonic() + backoff, callback)
