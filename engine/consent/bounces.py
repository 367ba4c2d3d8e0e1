"""What a failed delivery receipt means for consent: an address that must never be sent to again.

A provider saying the recipient unsubscribed or replied STOP withdraws their consent to the channel (recorded
in their history, from "receipt") and suppresses the address; one saying the address is invalid, that the
recipient complained, or that the failure is permanent (a hard bounce, the receipt's `permanent` flag) suppresses
the address. Soft bounces (mailbox full, unreachable) change nothing: a later message may get through.
Providers word reasons their own way, so a reason containing one of these phrases, in any case, counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, text

from engine.channels import CHANNELS
from engine.consent import preferences, suppression
from engine.consent.suppression import Reason

SOURCE = "receipt"
# Checked in this order: the first phrase found in a reason decides.
_PHRASES: tuple[tuple[Reason, tuple[str, ...]], ...] = (
    ("stop", ("replied stop", "stop reply", "opted out by reply")),
    ("unsubscribed", ("unsubscribed", "opted out", "opt-out", "opt out")),
    ("complaint", ("complaint", "complained", "marked as spam", "reported as spam")),
    ("invalid_address", ("invalid number", "invalid address", "no such user", "does not exist", "unknown user")),
)
WITHDRAWS_CONSENT: frozenset[Reason] = frozenset({"stop", "unsubscribed"})


def suppression_reason(reason: str | None, permanent: bool | None = None) -> Reason | None:
    """Why a failure with this reason (and the provider's `permanent` flag) suppresses the address, if it does."""
    words = (reason or "").lower()
    for kind, phrases in _PHRASES:
        if any(phrase in words for phrase in phrases):
            return kind
    return "hard_bounce" if permanent else None


@dataclass(frozen=True)
class BouncedMessage:
    """A failed message whose receipt suppresses its address: the log row's id and the suppression's reason."""

    log_id: int
    reason: Reason
    detail: str | None


def apply_bounces(conn: Connection, bounced: Iterable[BouncedMessage]) -> int:
    """Suppress the addresses of `bounced` messages (and withdraw consent where the recipient opted out), in the
    caller's transaction; how many of them changed anything (the others were suppressed already)."""
    by_id = {message.log_id: message for message in bounced}
    if not by_id:
        return 0
    rows = conn.execute(
        text(
            "SELECT id, channel, address, customer_id, campaign_id FROM communication_log "
            "WHERE id = ANY(:ids) AND address IS NOT NULL ORDER BY id"
        ),
        {"ids": list(by_id)},
    ).all()
    added = 0
    for log_id, channel, address, customer_id, campaign_id in rows:
        message = by_id[log_id]
        detail = {"campaign_id": campaign_id, "message_id": log_id, "reason": message.detail}
        withdraws = message.reason in WITHDRAWS_CONSENT and _asks_consent(channel)
        if withdraws and _customer_exists(conn, customer_id):
            added += preferences.set_channel_consent(
                conn, customer_id, channel, False, SOURCE, address=address, reason=message.reason, detail=detail
            )
        else:
            added += suppression.suppress(
                conn, channel, address, message.reason, SOURCE, detail=message.detail, customer_id=customer_id,
                campaign_id=campaign_id,
            )  # fmt: skip
    return added


def _asks_consent(channel: str) -> bool:
    found = CHANNELS.get(channel)
    return found is not None and found.consent is not None


def _customer_exists(conn: Connection, customer_id: int) -> bool:
    return conn.execute(text("SELECT 1 FROM customers WHERE id = :id"), {"id": customer_id}).first() is not None
