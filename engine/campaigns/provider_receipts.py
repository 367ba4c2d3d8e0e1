"""Delivery reports from the providers' own webhooks (Twilio status callbacks, Postmark-style e-mail webhooks,
Meta's WhatsApp status webhooks), turned into our receipts.

A provider names a message by the id it answered when it took it, which the sender keeps
(`communication_log.vendor_message_id`). Each report of a message we sent becomes a receipt (reference: the log
id) and goes on the receipts stream like the vendor simulator's callbacks, so one applier
(`engine.campaigns.receipts`) moves statuses forward and suppresses addresses for every provider; a report is
taken once per provider, message and status (providers retry). A report of a message we do not know (another
system's, one sent before the id was kept, or a status we do not track) is acknowledged and dropped, since a
provider retries anything it does not see accepted. A report that arrives before the sender has recorded the
provider's id (within the second its batch went out) finds nothing: that message stays `sent` until its campaign
stops waiting for it (`receipt_timeout_s`), as when a report is lost.

Failures are worded from the transports' tables of provider error codes, so `engine.campaigns.failures` and
`engine.consent.bounces` read them as they read the transports' own: Twilio's `ErrorCode`, Meta's `errors[].code`;
for e-mail a hard bounce, a bad address or a spam complaint is permanent (and suppresses the address), other
bounces are not.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
import redis.asyncio
from sqlalchemy import Engine, text

from engine.campaigns.receipts import accept_callback
from engine.channels.transports import meta, twilio
from engine.channels.transports.base import coded_reason
from engine.settings import Settings

log = logging.getLogger(__name__)

# The statuses Twilio and Meta report that settle a message; the others (queued, sending, sent) are on the way.
SETTLING_STATUSES: dict[str, Literal["delivered", "failed"]] = {
    "delivered": "delivered", "read": "delivered", "undelivered": "failed", "failed": "failed",
}  # fmt: skip
# Postmark bounce types after which the address cannot receive mail (the others are soft: it may later).
PERMANENT_BOUNCES = frozenset({"HardBounce", "BadEmailAddress", "ManuallyDeactivated", "SpamComplaint"})

FIND_MESSAGES = text(
    "SELECT vendor_message_id, id FROM communication_log WHERE channel = :channel AND vendor_message_id = ANY(:ids)"
)


class UnreadableReport(ValueError):
    """The webhook's body is not a report in the provider's format: what is missing or wrong."""


@dataclass(frozen=True)
class ProviderReport:
    """What a provider said became of one message it took."""

    vendor_message_id: str
    status: Literal["delivered", "failed"]
    occurred_at: datetime
    reason: str | None = None
    permanent: bool | None = None  # None: the reason decides (engine.campaigns.failures)


def twilio_reports(form: dict[str, str], now: datetime) -> list[ProviderReport]:
    """A Twilio status callback's report; none for a status on the way (queued, sending, sent)."""
    sid, state = form.get("MessageSid"), form.get("MessageStatus")
    if not sid or not state:
        raise UnreadableReport("a status callback needs MessageSid and MessageStatus")
    status = SETTLING_STATUSES.get(state)
    if status != "failed":
        return [] if status is None else [ProviderReport(sid, "delivered", now)]
    code = int(form["ErrorCode"]) if form.get("ErrorCode", "").isdigit() else None
    reason = coded_reason(twilio.REASONS, code, None) or (f"{state} (error {code})" if code is not None else state)
    return [ProviderReport(sid, "failed", now, reason)]


def meta_reports(body: Any, now: datetime) -> list[ProviderReport]:
    """The reports in a WhatsApp Business webhook (`entry[].changes[].value.statuses[]`); inbound messages and
    statuses on the way are left out."""
    try:
        statuses = [
            status
            for entry in body["entry"]
            for change in entry.get("changes", [])
            for status in change.get("value", {}).get("statuses", [])
        ]
    except (KeyError, TypeError, AttributeError):
        raise UnreadableReport("a webhook is a JSON object with entry[].changes[].value") from None
    reports = []
    for status in statuses:
        if not isinstance(status, dict) or not isinstance(status.get("id"), str) or not status["id"]:
            raise UnreadableReport("each of value.statuses[] needs its message's id")
        settled = SETTLING_STATUSES.get(str(status.get("status")))
        if settled is None:
            continue
        stamp = str(status.get("timestamp", ""))
        at = datetime.fromtimestamp(int(stamp), UTC) if stamp.isdigit() else now
        if settled == "delivered":
            reports.append(ProviderReport(status["id"], "delivered", at))
            continue
        errors = status.get("errors") or [{}]
        error = errors[0] if isinstance(errors, list) and isinstance(errors[0], dict) else {}
        code, title = error.get("code"), error.get("title") or error.get("message")
        words = f"failed (error {code})" if code is not None else "failed"
        reason = coded_reason(meta.REASONS, code, title) or (f"{words}: {title}" if title else words)
        reports.append(ProviderReport(status["id"], "failed", at, reason))
    return reports


def email_api_reports(body: Any, now: datetime) -> list[ProviderReport]:
    """A Postmark-style webhook's report (Delivery, Bounce, SpamComplaint); none for the other record types."""
    if not isinstance(body, dict) or not isinstance(body.get("RecordType"), str):
        raise UnreadableReport("a webhook is a JSON object with a RecordType")
    record = body["RecordType"]
    if record not in {"Delivery", "Bounce", "SpamComplaint"}:
        return []
    message_id = body.get("MessageID")
    if not isinstance(message_id, str) or not message_id:
        raise UnreadableReport(f"a {record} record needs its MessageID")
    at = _moment(body.get("DeliveredAt" if record == "Delivery" else "BouncedAt"), now)
    if record == "Delivery":
        return [ProviderReport(message_id, "delivered", at)]
    kind = "SpamComplaint" if record == "SpamComplaint" else str(body.get("Type") or "Bounce")
    described = str(body.get("Description") or body.get("Details") or "")
    words = "spam complaint" if kind == "SpamComplaint" else f"{kind}: {described}".rstrip(": ")
    permanent = kind in PERMANENT_BOUNCES or body.get("Inactive") is True
    return [ProviderReport(message_id, "failed", at, words, permanent)]


def _moment(value: Any, now: datetime) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else now
    except ValueError:
        return now
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def find_messages(db: Engine, channel: str, vendor_ids: list[str]) -> dict[str, int]:
    """The log ids of our `channel` messages the provider took under these ids."""
    with db.connect() as conn:
        return dict(conn.execute(FIND_MESSAGES, {"channel": channel, "ids": vendor_ids}).all())


async def accept_reports(
    db: Engine, client: redis.asyncio.Redis, settings: Settings, provider: str, channel: str,
    reports: list[ProviderReport],
) -> None:  # fmt: skip
    """Put the reports of messages we sent on the receipts stream; the others are logged and dropped."""
    found = await asyncio.to_thread(find_messages, db, channel, [report.vendor_message_id for report in reports])
    for report in reports:
        log_id = found.get(report.vendor_message_id)
        if log_id is None:
            log.info("%s reported %s of message %r, which we did not send; ignored", provider, report.status,
                     report.vendor_message_id)  # fmt: skip
            continue
        receipt = {
            "vendor_message_id": report.vendor_message_id,
            "reference": log_id,
            "status": report.status,
            "reason": report.reason,
            "permanent": report.permanent,
            "occurred_at": report.occurred_at.isoformat(),
        }
        webhook_id = f"{provider}:{report.vendor_message_id}:{report.status}"
        await accept_callback(client, settings, webhook_id, orjson.dumps(receipt))
