"""Applying delivery receipts: drain the receipts stream into the communication log, in bulk.

Each stream entry is one verified vendor callback (a receipt, or a list of them). Many entries are
applied together: their receipts are COPied into a staging table, folded per message (the earliest
time of each status), and one UPDATE joins them to the log by the message's reference (its log id).
Status only moves forward: pending → queued → sent → delivered | failed, and a final status is never
changed, so duplicated, late and out-of-order receipts change nothing wrong; a late `sent` receipt
still records its time. A failed receipt's failure is classified as it is staged (engine.campaigns.failures:
transient or permanent, the vendor's `permanent` flag winning over its reason), and one saying the recipient
unsubscribed, replied STOP, complained, or that the address is invalid or hard-bounced puts the address on the
suppression list (and withdraws the customer's consent to the channel where they opted out) in the same
transaction (engine.consent.bounces), so no later campaign sends there again. Entries are acknowledged
after the commit (the one consumer loop, `streams.StreamConsumer`, keeps them claimed meanwhile); a crashed
applier's entries are reclaimed and applied again, which changes nothing that was already applied. An entry
delivered more than `streams.MAX_DELIVERIES` times (appliers kept dying on it) is logged with its raw body
and dropped; rounds that failed (Postgres down, a lock timeout) do not count toward that.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import redis
import redis.asyncio
from sqlalchemy import Engine

from engine import streams
from engine.campaigns.failures import FailureKind, failure_kind
from engine.connections import psycopg_connection
from engine.consent.bounces import BouncedMessage, apply_bounces, suppression_reason
from engine.observability.metrics import RECEIPTS
from engine.settings import Settings
from engine.streams import ConsumerReport, Entry, StreamConsumer

log = logging.getLogger(__name__)

STREAM = "receipts"
GROUP = "receipt-appliers"
RECEIPT_STATUSES = frozenset({"sent", "delivered", "failed"})

# The status a log row moves to, given the folded receipts `r` of its message.
_NEW_STATUS = """CASE
    WHEN l.status NOT IN ('pending', 'queued', 'sent') THEN l.status
    WHEN r.delivered_at IS NOT NULL AND (r.failed_at IS NULL OR r.delivered_at <= r.failed_at) THEN 'delivered'
    WHEN r.failed_at IS NOT NULL THEN 'failed'
    ELSE 'sent' END"""

STAGING_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS stage_receipts (
    id bigint, vendor_message_id text, status text, reason text, failure_kind text, occurred_at timestamptz
) ON COMMIT DELETE ROWS
"""
APPLY_RECEIPTS = f"""
WITH r AS (
    SELECT id,
        min(vendor_message_id) AS vendor_message_id,
        min(occurred_at) FILTER (WHERE status = 'sent') AS sent_at,
        min(occurred_at) FILTER (WHERE status = 'delivered') AS delivered_at,
        min(occurred_at) FILTER (WHERE status = 'failed') AS failed_at,
        min(reason) FILTER (WHERE status = 'failed') AS reason,
        (array_agg(failure_kind ORDER BY reason, failure_kind) FILTER (WHERE status = 'failed'))[1] AS failure_kind
    FROM stage_receipts
    GROUP BY id
)
UPDATE communication_log l SET
    status = {_NEW_STATUS},
    sent_at = COALESCE(l.sent_at, r.sent_at),
    delivered_at = CASE WHEN l.status <> 'delivered' AND {_NEW_STATUS} = 'delivered'
        THEN r.delivered_at ELSE l.delivered_at END,
    failed_at = CASE WHEN l.status <> 'failed' AND {_NEW_STATUS} = 'failed' THEN r.failed_at ELSE l.failed_at END,
    reason = CASE WHEN l.status <> 'failed' AND {_NEW_STATUS} = 'failed'
        THEN COALESCE(r.reason, 'failed without a reason') ELSE l.reason END,
    failure_kind = CASE WHEN l.status <> 'failed' AND {_NEW_STATUS} = 'failed'
        THEN r.failure_kind ELSE l.failure_kind END,
    vendor_message_id = COALESCE(l.vendor_message_id, r.vendor_message_id)
FROM r
WHERE l.id = r.id AND (l.status <> {_NEW_STATUS} OR (l.sent_at IS NULL AND r.sent_at IS NOT NULL))
"""


@dataclass
class ReceiptReport(ConsumerReport):
    """What applying receipts did: stream entries, the receipts in them, and the log rows they changed
    (duplicates and receipts of messages already final change none); malformed ones are left out."""

    receipts: int = 0
    changed: int = 0
    malformed: int = 0
    suppressed: int = 0  # addresses a failure put on the suppression list (engine.consent.bounces)

    def add(self, other: ReceiptReport) -> None:
        """Add the counts of `other` (not why it stopped)."""
        for name in self.__dataclass_fields__:
            if name != "stopped":
                setattr(self, name, getattr(self, name) + getattr(other, name))


Row = tuple[int, Any, str, Any, FailureKind | None, str]
"""A receipt as staged: log id, vendor message id, status, reason, failure kind (of a failed one), occurred_at."""


def _receipts(payload: Any) -> list[Any]:
    return payload if isinstance(payload, list) else [payload]


def _rows(entries: list[Entry], report: ReceiptReport) -> tuple[list[Row], list[BouncedMessage]]:
    """The receipts to stage, and the failed ones whose reason suppresses the address."""
    rows: list[Row] = []
    bounced: list[BouncedMessage] = []
    for entry in entries:
        for receipt in _receipts(entry.payload):
            report.receipts += 1
            reference = receipt.get("reference") if isinstance(receipt, dict) else None
            if (
                not isinstance(reference, int)
                or isinstance(reference, bool)
                or receipt.get("status") not in RECEIPT_STATUSES
                or not isinstance(receipt.get("occurred_at"), str)
                or not isinstance(receipt.get("reason"), str | None)
                or not isinstance(receipt.get("permanent"), bool | None)
            ):
                report.malformed += 1
                continue
            reason = receipt.get("reason")
            kind = failure_kind(reason, receipt.get("permanent")) if receipt["status"] == "failed" else None
            suppressing = suppression_reason(reason, receipt.get("permanent")) if kind is not None else None
            if suppressing is not None:
                bounced.append(BouncedMessage(reference, suppressing, reason))
            rows.append(
                (reference, receipt.get("vendor_message_id"), receipt["status"], reason, kind, receipt["occurred_at"])
            )
    return rows, bounced


def apply_receipts(db: Engine, entries: list[Entry]) -> ReceiptReport:
    """Apply the receipts of `entries` in one transaction; an entry Postgres refuses is skipped and logged.
    The report counts receipts (the stream loop counts entries)."""
    report = ReceiptReport()
    rows, bounced = _rows([entry for entry in entries if entry.error is None], report)
    report.malformed += sum(1 for entry in entries if entry.error is not None)
    if not rows:
        return report
    try:
        with db.begin() as conn, psycopg_connection(conn).cursor() as cursor:
            cursor.execute(STAGING_TABLE)
            with cursor.copy("COPY stage_receipts FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(APPLY_RECEIPTS)
            report.changed = cursor.rowcount
            report.suppressed = apply_bounces(conn, bounced)
    except psycopg.DataError:
        if len(entries) == 1:
            log.error("receipts entry %s cannot be applied; skipping it: %s", entries[0].id, entries[0].raw[:500])
            report.malformed += len(rows)
            return report
        report = ReceiptReport()
        for entry in entries:
            report.add(apply_receipts(db, [entry]))
    return report


def give_up_poison(entries: list[Entry]) -> None:
    """Drop entries appliers kept dying on, logging each with its raw body (to apply by hand if need be)."""
    for entry in entries:
        log.error(
            "receipts entry %s was delivered %d times without being applied; dropping it: %s",
            entry.id, entry.deliveries - 1, entry.raw.decode(errors="replace"),
        )  # fmt: skip


def drain_receipts(
    db: Engine,
    client: redis.Redis,
    settings: Settings,
    consumer: str | None = None,
    max_batches: int | None = None,
    block_ms: int | None = None,
    on_batch: Callable[[ReceiptReport], None] | None = None,
) -> ReceiptReport:
    """Apply receipts until the stream is empty (or `max_batches` batches); reclaims a dead applier's first."""
    receipts = StreamConsumer(
        client, settings.stream(STREAM), GROUP, consumer or streams.default_consumer_name(),
        settings.delivery_claim_idle_ms, settings.receipts_batch_entries,
    )  # fmt: skip
    report = ReceiptReport()

    def apply(entries: list[Entry]) -> None:
        applied = apply_receipts(db, entries)
        report.add(applied)
        RECEIPTS.labels("changed").inc(applied.changed)
        RECEIPTS.labels("unchanged").inc(applied.receipts - applied.changed - applied.malformed)
        RECEIPTS.labels("malformed").inc(applied.malformed)

    return receipts.run(apply, give_up_poison, report, max_batches=max_batches, block_ms=block_ms, on_batch=on_batch)


# Remember the webhook id and append the callback in one atomic step: a replay is recognised, and a
# callback is never remembered without being on the stream (so a retry after a failure is not lost).
ACCEPT_ONCE_SCRIPT = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return redis.call('XADD', KEYS[2], '*', ARGV[2], ARGV[3])
end
return false
"""


async def accept_callback(client: redis.asyncio.Redis, settings: Settings, webhook_id: str, body: bytes) -> str | None:
    """Put a verified callback's body on the receipts stream once per webhook id; its entry id, or None
    for a replay (already accepted within `receipts_replay_ttl_s`)."""
    script = client.register_script(ACCEPT_ONCE_SCRIPT)
    keys = [settings.redis_key(f"receipts:webhook:{webhook_id}"), settings.stream(STREAM)]
    entry_id = await script(keys=keys, args=[settings.receipts_replay_ttl_s, streams.PAYLOAD, body])
    return None if entry_id is None else streams.entry_id_text(entry_id)
