"""Receipts that never came: ask the provider what became of messages still `sent` long after they went out.

A provider's reports can be lost: its callbacks give up while our API is down, or a bug on either side drops
them. Without them a campaign would wait in `sending` until `receipt_timeout_s` (a day). So each round (every
`receipt_reconcile_every_s`, in the delivery worker) takes the messages still `sent` more than
`receipt_reconcile_after_s` after they went out, and not asked about within that time either, and marks them
asked (`receipt_checked_at`); then asks the transport of each one's channel (`XENO_CHANNEL_TRANSPORTS`) through
its status lookup (`engine.channels.transports.base.StatusLookup`: the simulator's batch status endpoint, Twilio's
`GET Messages/{sid}.json`, the e-mail API's message details), and puts the final answers on the receipts stream as
one entry, shaped as a callback's receipts. Channels whose transport has no lookup (SMTP, Meta's Cloud API, the
webhook channel) are not claimed; the round's report names them with the reason. The receipts applier moves the
messages forward from there, as for any receipt: statuses only move forward, so a real receipt arriving after
the answer (or before it) changes nothing wrong.

A round asks about at most `ROUND_LIMIT` messages, the never-asked first. A message the provider still calls
`sent`, or does not know, or whose lookup failed, is asked again `receipt_reconcile_after_s` later, until
`receipt_timeout_s` after it went out: its campaign no longer waits for it then. Workers running side by side
each claim their own messages (SKIP LOCKED), so none is asked twice at once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

import aiohttp
import redis
from sqlalchemy import Engine, text

from engine import streams
from engine.campaigns.receipts import STREAM
from engine.channels import CHANNEL_NAMES
from engine.channels.transports import TRANSPORTS, transport_name
from engine.channels.transports.base import StatusLookup
from engine.settings import Settings

log = logging.getLogger(__name__)

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
RETURNING l.id, l.channel, l.vendor_message_id
"""


@dataclass
class ReconcileReport:
    """One round: messages asked about, what the providers said of them, and the channels not asked about."""

    asked: int = 0
    reconciled: int = 0  # answered delivered or failed: on the receipts stream
    still_sent: int = 0
    unknown: int = 0
    unanswered: int = 0  # their lookup failed (the provider down, a refusal): asked again later
    skipped: dict[str, str] = field(default_factory=dict)  # channel: why its messages are not looked up


def lookup_transports(
    settings: Settings, session: aiohttp.ClientSession
) -> tuple[dict[str, StatusLookup], dict[str, str]]:
    """The transports answering status lookups, by channel (channels sharing one share the instance), and why
    each other channel is not asked. Transports without a lookup are not opened."""
    opened: dict[str, StatusLookup] = {}
    looking: dict[str, StatusLookup] = {}
    skipped: dict[str, str] = {}
    for channel in CHANNEL_NAMES:
        name = transport_name(settings, channel)
        if not hasattr(TRANSPORTS[name], "look_up"):
            skipped[channel] = f"{name} has no status lookup: its messages wait for the provider's reports"
            continue
        if name not in opened:
            transport = TRANSPORTS[name](settings, session)
            assert isinstance(transport, StatusLookup)
            opened[name] = transport
        looking[channel] = opened[name]
    return looking, skipped


def claim_unreceipted(
    db: Engine, settings: Settings, now: datetime, limit: int, channels: list[str]
) -> dict[str, list[tuple[str, int]]]:
    """Mark up to `limit` messages of `channels` due for a lookup as asked at `now`; per channel, each one's
    provider id and log id."""
    with db.begin() as conn:
        rows = conn.execute(
            text(CLAIM),
            {
                "now": now,
                "asked_before": now - timedelta(seconds=settings.receipt_reconcile_after_s),
                "oldest": now - timedelta(seconds=settings.receipt_timeout_s),
                "limit": limit,
                "channels": channels,
            },
        ).all()
    claimed: dict[str, list[tuple[str, int]]] = {}
    for log_id, channel, vendor_message_id in rows:
        claimed.setdefault(channel, []).append((vendor_message_id, log_id))
    return claimed


class Reconciler:
    """Asks the providers about messages whose receipts never came, one round at a time (`async with` it)."""

    def __init__(self, db: Engine, client: redis.Redis, settings: Settings, *, limit: int = ROUND_LIMIT) -> None:
        self.db = db
        self.client = client
        self.settings = settings
        self.limit = limit
        self._session: aiohttp.ClientSession | None = None
        self._looking: dict[str, StatusLookup] = {}
        self._skipped: dict[str, str] = {}

    async def __aenter__(self) -> Self:
        timeout = aiohttp.ClientTimeout(total=self.settings.delivery_request_timeout_s)
        self._session = aiohttp.ClientSession(timeout=timeout)
        self._looking, self._skipped = lookup_transports(self.settings, self._session)
        for channel, why in self._skipped.items():
            log.info("receipt reconciliation skips %s: %s", channel, why)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for transport in {id(transport): transport for transport in self._looking.values()}.values():
            await transport.close()
        if self._session is not None:
            await self._session.close()

    async def reconcile_once(self, now: datetime) -> ReconcileReport:
        """Claim the messages due at `now`, ask their providers about them and put the final answers on the
        stream."""
        assert self._session is not None, "use the reconciler in `async with`"
        claimed = await asyncio.to_thread(
            claim_unreceipted, self.db, self.settings, now, self.limit, list(self._looking)
        )
        report = ReconcileReport(asked=sum(len(messages) for messages in claimed.values()), skipped=self._skipped)
        receipts: list[dict[str, Any]] = []
        for channel, messages in claimed.items():
            transport = self._looking[channel]
            for start in range(0, len(messages), transport.lookup_batch):
                batch = dict(messages[start : start + transport.lookup_batch])
                answers = await transport.look_up(list(batch))
                report.unanswered += len(batch) - len(answers.keys() & batch.keys())
                for vendor_id, answer in answers.items():
                    log_id = batch.get(vendor_id)
                    if log_id is not None and answer.status in FINAL_STATUSES:
                        receipts.append({
                            "vendor_message_id": vendor_id, "reference": log_id, "status": answer.status,
                            "reason": answer.reason, "permanent": answer.permanent,
                            "occurred_at": answer.occurred_at or now.isoformat(),
                        })  # fmt: skip
                    elif answer.status == "sent":
                        report.still_sent += 1
                    else:
                        report.unknown += 1
        if receipts:
            stream = self.settings.stream(STREAM)
            await asyncio.to_thread(streams.publish, self.client, stream, receipts)
        report.reconciled = len(receipts)
        return report
