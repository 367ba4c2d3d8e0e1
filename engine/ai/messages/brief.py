"""What a message suggestion is asked with, and what a provider drafts back."""

from __future__ import annotations

from dataclasses import dataclass

from engine.ai.messages.audience import AudienceProfile
from engine.features.catalog import Catalog

TONES = ("friendly", "urgent", "premium")


@dataclass(frozen=True)
class MessageBrief:
    """A campaign's objective ("bring back inactive users"), its channel and audience, and the brand."""

    objective: str
    channel: str  # a channel's name (`engine.channels`)
    catalog: Catalog
    brand: str
    audience: AudienceProfile | None = None
    tones: tuple[str, ...] = TONES


@dataclass(frozen=True)
class DraftMessage:
    """One message variant in one tone: a template of the campaign template language, with a subject for e-mail."""

    tone: str
    body: str
    subject: str | None = None


@dataclass(frozen=True)
class MessageDrafts:
    """A provider's variants, and notes for the user on choices it made for them (an offer it suggested)."""

    drafts: tuple[DraftMessage, ...]
    notes: tuple[str, ...] = ()
