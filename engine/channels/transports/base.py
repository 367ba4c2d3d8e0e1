"""What every transport shares: the message it is handed, the outcome it gives back, and the two ways it can say
that the sender, not the message, is at fault.

The sender (`engine.campaigns.sender`) owns the stream, the rate limits, the campaign's state and the log; a
transport owns only the provider's protocol: it takes a batch of one channel's messages and says, per message,
whether the provider took it (with the provider's id) or why not, in words `engine.campaigns.failures` reads as
transient or permanent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import aiohttp

from engine.channels.base import Channel, Outgoing
from engine.settings import Settings


@dataclass
class Outcome:
    """What became of a batch: `sent` (log id, provider's id), `failed` (log id, reason), how many of the sent the
    provider recognised as already taken (by their key), and the requests it took (retries included)."""

    sent: list[tuple[int, str]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    duplicates: int = 0
    attempts: int = 0

    def add(self, other: Outcome) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.duplicates += other.duplicates
        self.attempts = max(self.attempts, other.attempts)


def coded_reason(reasons: Mapping[int, str], code: object, words: str | None) -> str | None:
    """A failure's reason for a provider error code in its table of `reasons`, in the words
    `engine.campaigns.failures` reads; None for a code the table lacks."""
    if not isinstance(code, int) or code not in reasons:
        return None
    return f"{reasons[code]} (error {code})" + (f": {words}" if words else "")


# The statuses Twilio and Meta report that settle a message; the others (queued, sending, sent) are on the way.
SETTLING_STATUSES: dict[str, Literal["delivered", "failed"]] = {
    "delivered": "delivered", "read": "delivered", "undelivered": "failed", "failed": "failed",
}  # fmt: skip


@dataclass(frozen=True)
class LookedUp:
    """What a provider's status lookup says of one message, shaped like a receipt: `sent` while on the way,
    `unknown` for an id it does not know."""

    status: Literal["sent", "delivered", "failed", "unknown"]
    reason: str | None = None
    permanent: bool | None = None  # None: the reason decides (engine.campaigns.failures)
    occurred_at: str | None = None  # ISO 8601; None: when it was asked


class ProviderMisconfigured(RuntimeError):
    """The provider refused the sender itself (credentials, URL, account): retried later, never blamed on messages."""


class UnreadableAnswer(RuntimeError):
    """The provider answered 2xx without a result for each message: it may have taken them, so the entry is posted
    again under the same keys, and this counts toward the poison limit."""


class Transport(Protocol):
    """Carries a channel's messages to one provider; opened once per sender (with its HTTP session) and closed
    with it."""

    name: str  # as XENO_CHANNEL_TRANSPORTS names it
    required: tuple[str, ...]  # the settings it cannot do without

    def __init__(self, settings: Settings, session: aiohttp.ClientSession) -> None: ...

    async def send(self, channel: Channel, messages: list[Outgoing]) -> Outcome:
        """Hand `messages` to the provider; what became of each (retries within the sender's limits included)."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class StatusLookup(Protocol):
    """A transport whose provider answers what became of a message it took (`engine.campaigns.reconcile` asks it
    about messages whose reports never came). Transports without one are skipped there, saying so."""

    lookup_batch: int  # the most ids one `look_up` takes

    async def close(self) -> None: ...

    async def look_up(self, vendor_ids: list[str]) -> dict[str, LookedUp]:
        """The provider's answer for each id it answered about; an id it could not be asked about (down, a
        refusal) is left out, to be asked again later."""
        ...
