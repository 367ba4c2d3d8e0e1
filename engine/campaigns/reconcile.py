"""Receipts that never came: ask the vendor what became of messages still `sent` long after they went out.

A vendor's receipts can be lost: its callbacks give up while our API is down, or a bug on either side drops
them. Without them a campaign would wait in `sending` until `receipt_timeout_s` (a day). So each round (every
`receipt_reconcile_every_s`, in the delivery worker) takes the messages still `sent` more than
`receipt_reconcile_after_s` after they went out, and not asked about within that time either, and marks them
asked (`receipt_checked_at`); then looks them up at the vendor's status endpoint, 1,000 per request, and puts
the final answers on the receipts stream as one entry, shaped as a callback's receipts. Only messages of channels
the simulator carries are looked up (`XENO_CHANNEL_TRANSPORTS`). The receipts applier
moves the messages forward from there, as for any receipt: statuses only move forward, so a real receipt
arriving after the answer (or before it) changes nothing wrong.

A round asks about at most `ROUND_LIMIT` messages, the never-asked first. A message the vendor still calls
`sent`, or does not know, or whose lookup failed, is asked again `receipt_reconcile_after_s` later, until
`receipt_timeout_s` after it went out: its campaign no longer waits for it then. Workers running side by side
each claim their own messages (SKIP LOCKED), so none is asked twice at once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

import aiohttp
import orjson
import redis
from sqlalchemy import Engine, text

from engine import streams
from engine.campaigns.receipts import STREAM
from engine.channels import CHANNEL_NAMES
from engine.channels.transports import SIMULATOR, transport_name
from engine.channels.transports.simulator import vendor_headers
from engine.settings import Settings

log = logging.getLogger(__name__)

LOOKUP_BATCH = 1_000  # ids per status request: the most a vendor's batch lookup takes
ROUND_LIMIT = 10_000  # messages asked about per round
FINAL_STATUSES = frozenset({"delivered", "failed"})

# Messages past `:asked_before` without a receipt and not asked since, sent within the receipt timeout (a campaign
# completed before `:oldest` sent all its messages before then too, so those campaigns' logs are not read).
CLAIM = """
WITH due AS (
    SELECT l.id FROM communication_log l JOIN campaigns c ON c.id = l.campaign_id
    WHERE c.status NOT IN ('draft', 'scheduled') AND (c.completed_at IS NULL OR c.completed_at >= :oldest)
      AND l.status = 'sent' AND l.vendor_message_id IS NOT NULL AND l.channel = ANY(:channels)
      AND l.sent_at >= :oldest AND l.sent_at < :asked_before
      AND (l.receipt_checked_at IS NULL OR l.receipt_checked_at < :asked_before)
    ORDER BY l.receipt_checked_at NULLS FIRST, l.sent_at
    LIMIT :limit
    FOR UPDATE OF l SKIP LOCKED
)
UPDATE communication_log l SET receipt_checked_at = :now FROM due WHERE l.id = due.id
RETURNING l.id, l.vendor_message_id
"""


@dataclass
class ReconcileReport:
    """One round: messages asked about, and what the vendor said of them."""

    asked: int = 0
    reconciled: int = 0  # answered delivered or failed: on the receipts stream
    still_sent: int = 0
    unknown: int = 0
    unanswered: int = 0  # their lookup failed (the vendor down, a refusal): asked again later


def simulated_channels(settings: Settings) -> list[str]:
    """The channels the vendor simulator carries: only its messages can be looked up there (a real provider's
    messages are not the simulator's to answer for)."""
    return [channel for channel in CHANNEL_NAMES if transport_name(settings, channel) == SIMULATOR]


def claim_unreceipted(db: Engine, settings: Settings, now: datetime, limit: int) -> dict[str, int]:
    """Mark up to `limit` messages due for a lookup as asked at `now`; their log ids by vendor message id."""
    with db.begin() as conn:
        rows = conn.execute(
            text(CLAIM),
            {
                "now": now,
                "asked_before": now - timedelta(seconds=settings.receipt_reconcile_after_s),
                "oldest": now - timedelta(seconds=settings.receipt_timeout_s),
                "limit": limit,
                "channels": simulated_channels(settings),
            },
        ).all()
    return {vendor_message_id: log_id for log_id, vendor_message_id in rows}


class Reconciler:
    """Asks the vendor about messages whose receipts never came, one round at a time (`async with` it)."""

    def __init__(self, db: Engine, client: redis.Redis, settings: Settings, *, limit: int = ROUND_LIMIT) -> None:
        self.db = db
        self.client = client
        self.settings = settings
        self.limit = limit
        self._url = f"{settings.delivery_vendor_url.rstrip('/')}/v1/messages/status"
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        timeout = aiohttp.ClientTimeout(total=self.settings.delivery_request_timeout_s)
        self._session = aiohttp.ClientSession(timeout=timeout)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def reconcile_once(self, now: datetime) -> ReconcileReport:
        """Claim the messages due at `now`, ask the vendor about them and put its final answers on the stream."""
        claimed = await asyncio.to_thread(claim_unreceipted, self.db, self.settings, now, self.limit)
        report = ReconcileReport(asked=len(claimed))
        vendor_ids = list(claimed)
        receipts: list[dict[str, Any]] = []
        for start in range(0, len(vendor_ids), LOOKUP_BATCH):
            batch = vendor_ids[start : start + LOOKUP_BATCH]
            answers = await self._look_up(batch)
            if answers is None:
                report.unanswered += len(batch)
                continue
            for answer in answers:
                status = answer.get("status")
                log_id = claimed.get(answer.get("vendor_message_id", ""))
                if log_id is not None and status in FINAL_STATUSES:
                    receipts.append({**answer, "reference": log_id})
                elif status == "sent":
                    report.still_sent += 1
                else:
                    report.unknown += 1
        if receipts:
            stream = self.settings.stream(STREAM)
            await asyncio.to_thread(streams.publish, self.client, stream, receipts)
        report.reconciled = len(receipts)
        return report

    async def _look_up(self, vendor_ids: list[str]) -> list[dict[str, Any]] | None:
        """The vendor's answers about `vendor_ids`, or None (logged) when it gave none."""
        assert self._session is not None, "use the reconciler in `async with`"
        body = orjson.dumps({"ids": vendor_ids})
        try:
            async with self._session.post(self._url, data=body, headers=vendor_headers(self.settings)) as response:
                answer = await response.read()
                if response.status != 200:
                    log.warning("receipt lookup: %s answered %d: %r", self._url, response.status, answer[:200])
                    return None
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("receipt lookup: %s did not answer: %r", self._url, error)
            return None
        try:
            messages: list[dict[str, Any]] = orjson.loads(answer)["messages"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("receipt lookup: %s answered something else than statuses: %r", self._url, answer[:200])
            return None
        return messages
