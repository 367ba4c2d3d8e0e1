"""What a campaign objective asks for: its intent (win-back, welcome, cart recovery, ...) and its offer.

"Bring back inactive users with 20% off, code COMEBACK, till Sunday" is a win-back with a 20% discount,
the code COMEBACK and a deadline. Keywords decide the intent; the first intent whose words appear wins,
in the order below (a "Diwali sale for lapsed customers" is a win-back that mentions Diwali).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.ai.language.lexicon import AMOUNT, FLAGS, amount_value

INTENT_WORDS = {
    "cart_recovery": ("cart", "basket", "abandon", "checkout", "check out", "left behind", "forgot"),
    "win_back": ("win back", "winback", "bring back", "come back", "inactive", "lapsed", "dormant", "churn",
                 "re-engage", "reengage", "reactivat", "miss you", "haven't ordered", "haven't bought", "return"),
    "welcome": ("welcome", "new customer", "new user", "onboard", "sign-up", "signup", "signed up", "first order",
                "first purchase", "joined"),
    "festive_sale": ("diwali", "holi", "eid", "christmas", "new year", "festive", "festival", "navratri", "pongal",
                     "onam", "rakhi", "black friday", "season", "sale"),
    "upsell": ("upsell", "upgrade", "premium", "vip", "loyal", "cross-sell", "cross sell", "bundle", "best customers",
               "top customers", "reward", "repeat"),
    "launch": ("launch", "new arrival", "new collection", "introduc", "announce", "just dropped", "restock",
               "back in stock", "new range"),
}  # fmt: skip
OCCASIONS = ("Diwali", "Holi", "Eid", "Christmas", "New Year", "Navratri", "Pongal", "Onam", "Rakhi", "Black Friday")

_PERCENT = re.compile(r"(?P<n>\d{1,2})\s?(?:%|percent|per\s+cent)(?:\s+off)?", FLAGS)
_FLAT = re.compile(rf"(?P<amount>{AMOUNT})\s+off\b", FLAGS)
_FREE_DELIVERY = re.compile(r"free\s+(?:shipping|delivery)", FLAGS)
# A code is written in capitals or digits ("code SAVE20"), so "a code for VIPs" names none.
_CODE = re.compile(r"\b(?i:code|coupon|promo)\s*[:=]?\s*(?P<code>[A-Z0-9]{3,20})\b")
_DEADLINE = re.compile(
    r"\b(?:(?:till|until|by|ends?|ending|before)\s+(?P<until>today|tonight|tomorrow|midnight|sunday|monday|tuesday|"
    r"wednesday|thursday|friday|saturday|the\s+weekend|this\s+weekend)|(?P<within>(?:next|in)\s+\d{1,3}\s+hours?)|"
    r"(?P<weekend>this\s+weekend))\b",
    FLAGS,
)


@dataclass(frozen=True)
class Offer:
    """What the customer gets: a percentage, a flat amount or free delivery, and maybe a code."""

    percent: int | None = None
    amount: int | float | None = None
    free_delivery: bool = False
    code: str | None = None


@dataclass(frozen=True)
class Intent:
    kind: str  # one of INTENT_WORDS, or "promotion" when none matched
    offer: Offer
    occasion: str | None = None
    deadline: str | None = None


def read_objective(objective: str) -> Intent:
    """The intent, offer, occasion and deadline an objective states; what it does not state stays unset."""
    lowered = objective.lower()
    kind = next((kind for kind, words in INTENT_WORDS.items() if any(word in lowered for word in words)), "promotion")
    percent = _PERCENT.search(objective)
    flat = _FLAT.search(objective)
    code = _CODE.search(objective)
    offer = Offer(
        percent=int(percent.group("n")) if percent else None,
        amount=amount_value(flat) if flat and not percent else None,
        free_delivery=_FREE_DELIVERY.search(objective) is not None,
        code=code.group("code") if code else None,
    )
    occasion = next((name for name in OCCASIONS if name.lower() in lowered), None)
    deadline = _DEADLINE.search(objective)
    return Intent(kind, offer, occasion, _deadline_words(deadline) if deadline else None)


def _deadline_words(found: re.Match[str]) -> str:
    if found.group("until"):
        said = re.sub(r"\s+", " ", found.group("until").lower())
        return (
            f"by {said}"
            if said in ("tonight", "midnight")
            else f"till {said.title() if said.endswith('day') else said}"
        )
    if found.group("within"):
        return re.sub(r"\s+", " ", found.group("within").lower()).replace("next", "in the next")
    return "this weekend"
