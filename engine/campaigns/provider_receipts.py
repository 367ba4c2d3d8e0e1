"""Delivery reports from the providers' own webhooks (Twilio status callbacks, Postmark-style e-mail webhooks,
Meta's WhatsApp status webhooks), turned into our receipts.

Each transport hands the provider our log id with the message (Twilio: the `ref` of the message's status callback
URL; Postmark: `Metadata`; Meta: `biz_opaque_callback_data`), and the provider's reports carry it back, so a report
finds its message even when it comes before the provider's answer to the send (the sender has not recorded the
provider's id yet). That reference is taken when the log row is of the webhook's channel and has no other
provider id; otherwise (messages sent before references were carried, a messaging service's own callback) the
report is matched by the provider's id the sender keeps (`communication_log.vendor_message_id`). Each report of
a message we sent becomes a receipt (reference: the log id) and goes on the receipts stream like the vendor
simulator's callbacks, so one applier (`engine.campaigns.receipts`) moves statuses forward and suppresses
addresses for every provider; a report is taken once per provider, message and status (providers retry). An
early report settles the message before the sender marks it sent, and the sender then only fills in its time.
A report of a message we do not know (another system's, or a status we do not track) is acknowledged and
dropped, since a provider retries anything it does not see accepted.

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
from engine.channels.transports import email_api, meta, twilio
from engine.channels.transports.base import SETTLING_STATUSES, coded_reason
from engine.errors import Invalid
from engine.settings import Settings

log = logging.getLogger(__name__)

# Postmark bounce types after which the address cannot receive mail (the others are soft: it may later).
PERMANENT_BOUNCES = frozenset({"HardBounce", "BadEmailAddress", "ManuallyDeactivated", "SpamComplaint"})

FIND_MESSAGES = text(
    "SELECT id, vendor_message_id FROM communication_log "
    "WHERE channel = :channel AND (id = ANY(:references) OR vendor_message_id = ANY(:ids))"
)


class UnreadableReport(Invalid, ValueError):
    """The webhook's body is not a report in the provider's format: what is missing or wrong."""


@dataclass(frozen=True)
class ProviderReport:
    """What a provider said became of one message it took."""

    vendor_message_id: str
    status: Literal["delivered", "failed"]
    occurred_at: datetime
    reason: str | None = None
    permanent: bool | None = None  # None: the reason decides (engine.campaigns.failures)
    reference: int | None = None  # our log id, as the provider echoed it; None when it did not


def echoed_reference(value: object) -> int | None:
    """Our log id as a provider echoes it back (a string of digits); None for anything else."""
    digits = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    return int(digits) if digits.isdigit() and len(digits) < 19 else None


def twilio_reports(form: dict[str, str], now: datetime, ref: str | None = None) -> list[ProviderReport]:
    """A Twilio status callback's report (`ref`: the query parameter of the callback URL the message named); none
    for a status on the way (queued, sending, sent)."""
    sid, state = form.get("MessageSid"), form.get("MessageStatus")
    if not sid or not state:
        raise UnreadableReport("a status callback needs MessageSid and MessageStatus")
    code = int(form["ErrorCode"]) if form.get("ErrorCode", "").isdigit() else None
    found = twilio.settled(state, code)
    if found is None or found.status not in ("delivered", "failed"):
        return []
    status: Literal["delivered", "failed"] = "delivered" if found.status == "delivered" else "failed"
    return [ProviderReport(sid, status, now, found.reason, reference=echoed_reference(ref))]


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
        ours = echoed_reference(status.get("biz_opaque_callback_data"))
        if settled == "delivered":
            reports.append(ProviderReport(status["id"], "delivered", at, reference=ours))
            continue
        errors = status.get("errors") or [{}]
        error = errors[0] if isinstance(errors, list) and isinstance(errors[0], dict) else {}
        code, title = error.get("code"), error.get("title") or error.get("message")
        words = f"failed (error {code})" if code is not None else "failed"
        reason = coded_reason(meta.REASONS, code, title) or (f"{words}: {title}" if title else words)
        reports.append(ProviderReport(status["id"], "failed", at, reason, reference=ours))
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
    metadata = body.get("Metadata")
    ours = echoed_reference(metadata.get(email_api.METADATA_REFERENCE)) if isinstance(metadata, dict) else None
    if record == "Delivery":
        return [ProviderReport(message_id, "delivered", at, reference=ours)]
    kind = "SpamComplaint" if record == "SpamComplaint" else str(body.get("Type") or "Bounce")
    described = str(body.get("Description") or body.get("Details") or "")
    words = "spam complaint" if kind == "SpamComplaint" else f"{kind}: {described}".rstrip(": ")
    permanent = kind in PERMANENT_BOUNCES or body.get("Inactive") is True
    return [ProviderReport(message_id, "failed", at, words, permanent, ours)]


def _moment(value: Any, now: datetime) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else now
    except ValueError:
        return now
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def find_messages(db: Engine, channel: str, reports: list[ProviderReport]) -> list[int | None]:
    """For each report, the log id of our `channel` message it is about (by the reference it carries, else by the
    provider's id); None for a message we did not send."""
    references = [report.reference for report in reports if report.reference is not None]
    with db.connect() as conn:
        rows = conn.execute(
            FIND_MESSAGES, {"channel": channel, "references": references,
                            "ids": [report.vendor_message_id for report in reports]}
        ).all()  # fmt: skip
    provider_ids: dict[int, str | None] = dict(rows)
    by_provider_id = {vendor_id: log_id for log_id, vendor_id in rows if vendor_id is not None}
    found: list[int | None] = []
    for report in reports:
        ours = report.reference
        if ours in provider_ids and provider_ids[ours] in (None, report.vendor_message_id):
            found.append(ours)
        else:
            found.append(by_provider_id.get(report.vendor_message_id))
    return found


async def accept_reports(
    db: Engine, client: redis.asyncio.Redis, settings: Settings, provider: str, channel: str,
    reports: list[ProviderReport],
) -> None:  # fmt: skip
    """Put the reports of messages we sent on the receipts stream; the others are logged and dropped."""
    found = await asyncio.to_thread(find_messages, db, channel, reports)
    for report, log_id in zip(reports, found, strict=True):
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
