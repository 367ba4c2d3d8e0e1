"""The local provider's message writer: objective + audience + pattern library → variants in several tones.

The objective gives the intent (`intents`) and the offer's facts (`offer`), which every variant states as
the objective does: "up to 40% off on sarees", the code, the deadline (added after the code in wordings
that have no place for one), what is launched. The pattern library gives the wording for each intent and
tone (`patterns`); the audience decides the rest: the currency (from where most of them live, unless the
objective names one), an offer sized to their average order value when the objective names none, and
the SMS wording that fits one message for the longest name among them. Words taken from the user
(brand, code, product names) are stripped of template syntax, so they can never become template code.
"""

from __future__ import annotations

import re

from engine.ai.messages.audience import AudienceProfile
from engine.ai.messages.brief import DraftMessage, MessageBrief, MessageDrafts
from engine.ai.messages.check import MessageProblem, check_message
from engine.ai.messages.intents import read_objective
from engine.ai.messages.offer import MONTHS, WEEKDAYS, OfferFact, offer_facts
from engine.ai.messages.patterns import (
    DEFAULT_DEADLINE,
    DEFAULT_LAUNCHED,
    DEFAULT_OCCASION,
    DEFAULT_OFFERS,
    PATTERNS,
)
from engine.channels import get_channel
from engine.features.catalog import Catalog

# Symbols for e-mail; in an SMS "Rs." keeps the message in the GSM alphabet (160 characters, not 70).
CURRENCIES = {"IN": ("₹", "Rs."), "US": ("$", "$"), "GB": ("£", "£"), "AE": ("AED ", "AED ")}
CURRENCY_COUNTRIES = {"INR": "IN", "USD": "US", "GBP": "GB", "AED": "AE"}
DEFAULT_COUNTRY = "IN"
_TEMPLATE_SYNTAX = re.compile(r"[{}%#]")
_OFFER_INTENTS = ("win_back", "welcome", "cart_recovery", "upsell", "thank_you")
_DATE_NAMES = re.compile(rf"\b(?:{'|'.join(WEEKDAYS)}|{'|'.join(MONTHS)})\w*", re.IGNORECASE)
_BARE_DEADLINES = {"tonight": "tonight", "midnight": "by midnight", "tomorrow": "till tomorrow"}


def compose_messages(brief: MessageBrief) -> MessageDrafts:
    """One variant per tone of the brief, each stating the objective's offer as it is and already checked
    against the catalog (and SMS length)."""
    intent = read_objective(brief.objective)
    facts = offer_facts(brief.objective)
    notes: list[str] = []
    offer = _offer(intent.kind, facts, brief, notes)
    code = next((fact.said for fact in facts if fact.kind == "code"), None)
    deadline = " ".join(_deadline_words(fact.said) for fact in facts if fact.kind == "date")
    launched = next((fact.said for fact in facts if fact.kind == "launched"), None)
    new = f"our {_plain(launched)}" if launched else DEFAULT_LAUNCHED
    slots = {
        "name": _variable(brief.catalog, "first_name", "friend"),
        "brand": _plain(brief.brand),
        "team": _team(_plain(brief.brand)),
        "offer": offer,
        "offer_title": _capitalised(offer),
        "code": f" with code {_plain(code)}" if code else "",
        "occasion": intent.occasion or DEFAULT_OCCASION,
        "deadline": deadline or DEFAULT_DEADLINE,
        "new": new,
        "new_title": _capitalised(new),
        "since": _since(brief.catalog),
    }
    drafts = []
    for tone in brief.tones:
        pattern = PATTERNS[intent.kind][tone]
        if get_channel(brief.channel).subject:
            body = pattern.body.format(**_slots_for(pattern.body, slots, deadline))
            drafts.append(DraftMessage(tone, body, pattern.subject.format(**slots)))
        else:
            wordings = [wording.format(**_slots_for(wording, slots, deadline)) for wording in pattern.sms]
            drafts.append(_fitting_short(tone, wordings, brief))
    return MessageDrafts(tuple(drafts), tuple(notes))


def currency_for(audience: AudienceProfile | None) -> tuple[str, str]:
    """The (e-mail, SMS) currency symbols for where most of the audience lives."""
    country = (audience.top_country if audience else None) or DEFAULT_COUNTRY
    return CURRENCIES.get(country, CURRENCIES[DEFAULT_COUNTRY])


def _slots_for(wording: str, slots: dict[str, str], deadline: str) -> dict[str, str]:
    """The slots for one wording: a deadline the objective states goes after the code when the wording has no
    place of its own for it, so no variant leaves it out."""
    if not deadline or "{deadline}" in wording:
        return slots
    return {**slots, "code": f"{slots['code']}, {deadline}"}


def _offer(kind: str, facts: tuple[OfferFact, ...], brief: MessageBrief, notes: list[str]) -> str:
    """The offer as the objective states it ("up to 40% off on sarees"), or one suited to the audience."""
    email_currency, sms_currency = currency_for(brief.audience)
    segmented = get_channel(brief.channel).segmented
    currency = sms_currency if segmented else email_currency
    parts: list[str] = []
    conditions: list[str] = []
    for fact in facts:
        if fact.kind == "discount":
            words = _discount_words(fact, segmented, currency)
            (conditions if fact.key[3] == "above" and not fact.said.lower().endswith("off") else parts).append(words)
        elif fact.kind in ("free_delivery", "buy_get"):
            parts.append(fact.said.lower())
    products = [_plain(fact.said) for fact in facts if fact.kind == "product"]
    offer = " and ".join(parts) or _suggested_offer(kind, brief.audience, currency, notes)
    if products:
        offer += " on " + " and ".join(products)
    return " ".join([offer, *(f"on orders {condition}" for condition in conditions)])


def _discount_words(fact: OfferFact, sms: bool, currency: str) -> str:
    """A discount or price as the objective says it, in the currency it names (as an SMS writes it)."""
    _, unit, amount, _ = fact.key
    qualifier = re.match(r"\D*?(?=[₹$£€]|rs|inr|usd|gbp|aed|eur|\d)", fact.said, re.IGNORECASE)
    words = qualifier[0].strip().lower() + " " if qualifier and qualifier[0].strip() else ""
    off = " off" if fact.said.lower().endswith("off") else ""
    if unit == "%":
        return f"{words}{amount}%{off}"
    symbol = currency
    if unit is not None:
        country = CURRENCY_COUNTRIES.get(str(unit))
        symbol = CURRENCIES[country][1 if sms else 0] if country else f"{unit} "
    assert isinstance(amount, float)
    number = f"{amount:,.0f}" if amount.is_integer() else f"{amount:,.2f}"
    price = "" if off or fact.key[3] == "above" else "prices " if words else "a price of "
    return f"{price}{words}{symbol}{number}{off}"


def _suggested_offer(kind: str, audience: AudienceProfile | None, currency: str, notes: list[str]) -> str:
    value = audience.average_order_value if audience else None
    if kind in _OFFER_INTENTS and value:
        amount = max(50, round(value * 0.1 / 50) * 50)
        notes.append(
            f"The objective names no offer, so the messages suggest {currency}{amount:,} off: about 10% of this "
            f"audience's average order value ({currency}{value:,.0f}). Change it to suit your margins."
        )
        return f"{currency}{amount:,} off"
    return DEFAULT_OFFERS[kind]


def _deadline_words(said: str) -> str:
    """A date fact as a deadline reads: "till Sunday", "by midnight", "on 31 Oct"."""
    said = _DATE_NAMES.sub(lambda name: name[0].capitalize(), re.sub(r"\s+", " ", said.strip()))
    if said.lower() in _BARE_DEADLINES:
        return _BARE_DEADLINES[said.lower()]
    if said[:1].isdigit() or said.lower().startswith(MONTHS):
        return f"on {said}"
    return said


def _team(brand: str) -> str:
    """How an e-mail is signed: "The Kurta & Co team", and "The Handloom Story team" (not "The The ...")."""
    return f"{brand} team" if brand.lower().startswith("the ") else f"The {brand} team"


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _fitting_short(tone: str, wordings: list[str], brief: MessageBrief) -> DraftMessage:
    """The first short wording that fits the channel (one SMS) for the longest recipient; the shortest if none does."""
    drafts = [DraftMessage(tone, wording) for wording in wordings]
    for draft in drafts:
        try:
            check_message(draft, brief.channel, brief.catalog, brief.audience)
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
