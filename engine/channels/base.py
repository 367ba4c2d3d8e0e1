"""What a channel is: the one declaration every other part of the product reads about a way of reaching people.

A channel module (`email.py`, `sms.py`, ...) builds one `Channel`; the registry (`engine.channels`) gathers them.
Nothing else spells a channel's name: the campaigns' CHECK constraint, the API's accepted values, the contact
policy (address and consent columns), the AI composers, the vendor simulator and the dashboard all ask here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple


@dataclass(frozen=True)
class Size:
    """How long a message is as its channel counts it: characters, and the parts it goes out in (SMS segments)."""

    characters: int
    parts: int = 1
    part_length: int | None = None  # what one part holds; None when the channel sends one part


def plain_size(text: str) -> Size:
    return Size(len(text))


@dataclass(frozen=True)
class Channel:
    """A way of reaching a customer: where their address and consent are, what a message may hold, how it goes."""

    name: str  # as stored in `campaigns.channel` and sent in the API
    label: str  # for people: "SMS", "e-mail"
    address: str  # the feature column holding the customer's address on this channel
    address_label: str  # for people: "phone number"; a recipient without one is skipped as "no phone number"
    consent: str | None  # the feature column saying the customer agreed to it; None: no consent asked
    transports: tuple[str, ...]  # the transports that can carry it (`engine.channels.transports`), simulator first
    subject: bool = False  # every message has a subject (required), e.g. e-mail
    has_html: bool = False  # a campaign may give an HTML template beside the text one (e-mail's HTML part)
    max_length: int | None = None  # the longest message it carries, in its own characters (`size`)
    size: Callable[[str], Size] = plain_size
    opt_out: str | None = None  # the line every message must end with, unless it mentions STOP (engine.consent)
    writing: str = ""  # how to write for it, for people and the AI composers
    failure_reasons: tuple[str, ...] = field(default=())  # how its providers say a message failed (the simulator's)

    @property
    def segmented(self) -> bool:
        """Whether its messages go out in parts (SMS segments), where a character outside GSM-7 costs length."""
        return self.size("").part_length is not None

    def no_consent(self) -> str:
        return f"no consent to {self.label}"

    def no_address(self) -> str:
        return f"no {self.address_label}"

    def too_long(self, text: str) -> str | None:
        """Why `text` cannot go on this channel, or None when it fits."""
        if self.max_length is None:
            return None
        size = self.size(text)
        if size.characters <= self.max_length:
            return None
        return f"too long for {self.label}: {size.characters} characters, at most {self.max_length}"

    def describe(self) -> dict[str, object]:
        """What clients are told about it (`GET /v1/channels`)."""
        return {
            "name": self.name,
            "label": self.label,
            "address": self.address,
            "consent": self.consent,
            "subject_required": self.subject,
            "has_html": self.has_html,
            "max_length": self.max_length,
            "transports": list(self.transports),
            "writing": self.writing,
        }


class Outgoing(NamedTuple):
    """One rendered message as the delivery stream carries it."""

    log_id: int
    key: str  # its idempotency key: the same for every retry of it
    address: str
    body: str
    subject: str | None
    customer_id: int | None  # None only for entries published before customers were carried
    html: str | None = None  # the rendered HTML template (channels with `has_html`); None: derived from `body`
