"""Whether a failed message could succeed if sent again: the one place that tells transient from permanent.

"Retry the failed" re-sends only transient failures, so this decides who hears from a campaign twice. The
sender and the receipts applier record the kind with each failure (`communication_log.failure_kind`), and
migration 0009 classified the failures logged before it, all with `failure_kind`.

Transient: the vendor did not take the message by the sender's last attempt (timeouts, connection errors,
408, 425, 429, 5xx) or refused it with one of those statuses; a receipt saying the same (`timeout`, `timed
out`, `temporarily`, `connection`); `unreachable` (phone off, out of coverage); `mailbox full` (a soft
bounce). `carrier rejected` is transient too: the number is valid and nobody opted out, carriers also
reject for congestion and passing filters, and a retry rejected again costs one message.

Permanent: `unsubscribed` (re-sending is unlawful in many places), `invalid number`, `invalid address`,
`blocked as spam`, `not a whatsapp user`, `inactive recipient` (an e-mail provider keeps the address off after a
hard bounce or complaint), and the vendor refusing the message itself (any other 4xx: the same message is
refused again). An SMTP relay's refusal (`refused by the mail server (550)`) is transient for a 4xx code and
permanent for a 5xx, as SMTP defines them.

Vendors word reasons their own way ("number unreachable", "carrier rejected (error 30007)"), so a reason
containing one of these phrases, in any case, is of that kind, and one containing a permanent phrase is
permanent whatever else it says.

A reason we do not know is permanent. It may be a provider's way of saying the person opted out, and a
message re-sent to them cannot be taken back; one left out can still be sent: a retry answers how many it
left out and why, by reason, so nothing is dropped silently, and a provider that knows better says so with
the receipt's `permanent` flag, which wins over any reason.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Literal

FailureKind = Literal["transient", "permanent"]

RETRYABLE_STATUSES = frozenset({408, 425, 429}) | frozenset(range(500, 600))
"""HTTP statuses of a vendor that may answer differently next time: the sender retries them, and a message
refused with one has failed transiently."""

TRANSIENT_REASONS = frozenset(
    {"unreachable", "mailbox full", "carrier rejected", "timeout", "timed out", "temporarily", "connection"}
)
PERMANENT_REASONS = frozenset(
    {"unsubscribed", "invalid number", "invalid address", "blocked as spam", "not a whatsapp user",
     "inactive recipient"}
)  # fmt: skip
UNKNOWN_REASON_KIND: FailureKind = "permanent"

# The sender's own reasons (engine.campaigns.sender): retries ran out, or the vendor refused the message.
NOT_ACCEPTED = "the vendor did not accept it after "
"""How the reason of every failure the sender recorded without having read the vendor's acceptance begins: the
vendor may have the message all the same, so "retry the failed" re-sends it under the same idempotency key."""
_REFUSED = re.compile(r"refused by the vendor \((\d{3})\)")
_MAIL_SERVER_REFUSED = re.compile(r"refused by the mail server \(([45])\d\d\)")  # SMTP: 4xx transient, 5xx not


def failure_kind(reason: str | None, permanent: bool | None = None) -> FailureKind:
    """The kind of a failure with `reason`; a provider's own `permanent` flag, when given, wins."""
    if permanent is not None:
        return "permanent" if permanent else "transient"
    return _kind_of_reason((reason or "").strip().lower())


@cache
def _kind_of_reason(reason: str) -> FailureKind:
    if reason.startswith(NOT_ACCEPTED):
        return "transient"
    refused = _REFUSED.match(reason)
    if refused is not None:
        return "transient" if int(refused[1]) in RETRYABLE_STATUSES else "permanent"
    mail_refused = _MAIL_SERVER_REFUSED.match(reason)
    if mail_refused is not None:
        return "transient" if mail_refused[1] == "4" else "permanent"
    if any(phrase in reason for phrase in PERMANENT_REASONS):
        return "permanent"
    if any(phrase in reason for phrase in TRANSIENT_REASONS):
        return "transient"
    return UNKNOWN_REASON_KIND
