"""The local provider's message writer: objective + audience + pattern library → variants in several tones.

The objective gives the intent and offer (`intents`); the pattern library gives the wording for each
intent and tone (`patterns`); the audience decides the rest: the currency (from where most of them
live), an offer sized to their average order value when the objective names none, and the SMS wording
that fits one message for the longest name among them. Words taken from the user (brand, code) are
stripped of template syntax, so they can never become template code.
"""

from __future__ import annotations

import re

from engine.ai.messages.audience import AudienceProfile
from engine.ai.messages.brief import DraftMessage, MessageBrief, MessageDrafts
from engine.ai.messages.check import MessageProblem, check_message
from engine.ai.messages.intents import Intent, read_objective
from engine.ai.messages.patterns import DEFAULT_DEADLINE, DEFAULT_OCCASION, DEFAULT_OFFERS, PATTERNS
from engine.features.catalog import Catalog

# Symbols for e-mail; in an SMS "Rs." keeps the message in the GSM alphabet (160 characters, not 70).
CURRENCIES = {"IN": ("₹", "Rs."), "US": ("$", "$"), "GB": ("£", "£"), "AE": ("AED ", "AED ")}
DEFAULT_COUNTRY = "IN"
_TEMPLATE_SYNTAX = re.compile(r"[{}%#]")
_OFFER_INTENTS = ("win_back", "welcome", "cart_recovery", "upsell")


def compose_messages(brief: MessageBrief) -> MessageDrafts:
    """One variant per tone of the brief, each already checked against the catalog (and SMS length)."""
    intent = read_objective(brief.objective)
    notes: list[str] = []
    email_currency, sms_currency = currency_for(brief.audience)
    currency = sms_currency if brief.channel == "sms" else email_currency
    offer = _offer(intent, brief.audience, currency, notes)
    slots = {
        "name": _variable(brief.catalog, "first_name", "friend"),
        "brand": _plain(brief.brand),
        "offer": offer,
        "offer_title": offer[:1].upper() + offer[1:],
        "code": f" with code {_plain(intent.offer.code)}" if intent.offer.code else "",
        "occasion": intent.occasion or DEFAULT_OCCASION,
        "deadline": intent.deadline or DEFAULT_DEADLINE,
        "since": _since(brief.catalog),
    }
    drafts = []
    for tone in brief.tones:
        pattern = PATTERNS[intent.kind][tone]
        if brief.channel == "email":
            drafts.append(DraftMessage(tone, pattern.body.format(**slots), pattern.subject.format(**slots)))
        else:
            drafts.append(_fitting_sms(tone, pattern.sms, slots, brief))
    return MessageDrafts(tuple(drafts), tuple(notes))


def currency_for(audience: AudienceProfile | None) -> tuple[str, str]:
    """The (e-mail, SMS) currency symbols for where most of the audience lives."""
    country = (audience.top_country if audience else None) or DEFAULT_COUNTRY
    return CURRENCIES.get(country, CURRENCIES[DEFAULT_COUNTRY])


def _offer(intent: Intent, audience: AudienceProfile | None, currency: str, notes: list[str]) -> str:
    said = intent.offer
    parts = []
    if said.percent is not None:
        parts.append(f"{said.percent}% off")
    elif said.amount is not None:
        parts.append(f"{currency}{said.amount:,} off")
    if said.free_delivery:
        parts.append("free delivery")
    if parts:
        return " and ".join(parts)
    value = audience.average_order_value if audience else None
    if intent.kind in _OFFER_INTENTS and value:
        amount = max(50, round(value * 0.1 / 50) * 50)
        notes.append(
            f"The objective names no offer, so the messages suggest {currency}{amount:,} off: about 10% of this "
            f"audience's average order value ({currency}{value:,.0f}). Change it to suit your margins."
        )
        return f"{currency}{amount:,} off"
    return DEFAULT_OFFERS[intent.kind]


def _fitting_sms(tone: str, wordings: tuple[str, ...], slots: dict[str, str], brief: MessageBrief) -> DraftMessage:
    """The first wording that fits one SMS for the longest recipient; the shortest if none does."""
    drafts = [DraftMessage(tone, wording.format(**slots)) for wording in wordings]
    for draft in drafts:
        try:
            check_message(draft, "sms", brief.catalog, brief.audience)
        except MessageProblem:
            continue
        return draft
    return drafts[-1]


def _variable(catalog: Catalog, feature: str, fallback: str) -> str:
    return f'{{{{ {feature} | default("{fallback}") }}}}' if feature in catalog else fallback


def _since(catalog: Catalog) -> str:
    if "days_since_last_order" not in catalog:
        return "a while"
    return '{{ (days_since_last_order ~ " days") if days_since_last_order else "a while" }}'


def _plain(text: str) -> str:
    return _TEMPLATE_SYNTAX.sub("", text).strip()
