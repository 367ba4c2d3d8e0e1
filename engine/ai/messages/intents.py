"""What a campaign objective asks for: its intent (win-back, welcome, thank-you, ...) and its occasion.

"Bring back inactive users with 20% off, code COMEBACK, till Sunday" is a win-back. Cue words decide the
intent, in two rounds: first the cues that say it outright ("lapsed", "thank", "upgrade", "signed up"),
then the weaker ones ("first order", "new", "sale"); in each round the first intent in the order below
with a cue in the objective wins (a "Diwali sale for lapsed customers" is a win-back that mentions
Diwali; "thank you for your first order" is a thank-you). A cue matches at the start of a word, so
"reactivat" covers "reactivate" and "reactivation"; a cue word of six letters or more also matches a
word with one slip of typing in it: a letter left out, one too many, or two swapped ("abandned",
"wlecome"). A letter typed for another is not taken as a slip: "shopped" is not "stopped". How well this
reads objectives nobody tuned it for is measured on the held-out part of
`engine/ai/evals/message_intents.json` (`engine.ai.evals.intents`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STRONG_CUES = {
    "cart_recovery": ("cart", "basket", "abandon", "checkout", "check out", "left behind", "left something",
                      "in their bag", "in your bag", "items in bag", "never paid", "didn't pay", "payment step",
                      "complete your purchase", "complete your order", "finish checkout", "forgot"),
    "win_back": ("win back", "winback", "win-back", "bring back", "come back", "welcome back", "inactive", "lapsed",
                 "dormant", "churn", "re-engage", "reengage", "re engage", "reactivat", "re-activat", "miss you",
                 "haven't ordered in", "haven't bought in", "havent ordered in", "havent bought in", "not ordered in",
                 "not bought in", "stopped", "lost customers", "went quiet", "gone quiet", "been a while", "lure",
                 "since their last order", "wapas", "purane", "old customers", "reconnect", "uninstall"),
    "welcome": ("welcome", "signed up", "sign-up", "signup", "new customer", "new user", "new member",
                "new subscriber", "new joinee", "onboard", "yet to buy", "haven't bought anything yet",
                "just joined", "swagat", "created an account", "registered"),
    "thank_you": ("thank", "thnx", "thx", "shukriya", "dhanyavaad", "dhanyawad", "appreciat", "gratitude", "grateful",
                  "loyal", "reward", "vip", "anniversary", "years with us", "year with us"),
    "upsell": ("upsell", "up-sell", "upgrade", "cross-sell", "cross sell", "bundle", "add-on", "add on", "addon",
               "accessor", "pair it", "goes with", "complete the look", "buy more", "recommend", "premium plan"),
    "launch": ("launch", "new arrival", "new collection", "new range", "new line", "introduc", "unveil",
               "just dropped", "just landed", "new drop", "restock", "back in stock", "now available",
               "naya collection"),
    "festive_sale": ("diwali", "deepavali", "holi", "eid", "christmas", "xmas", "new year", "navratri", "pongal",
                     "onam", "rakhi", "raksha bandhan", "dussehra", "durga puja", "ganesh", "lohri", "baisakhi",
                     "ugadi", "independence day", "republic day", "valentine", "mother's day", "father's day",
                     "black friday", "cyber monday", "big billion", "festive", "festival", "end of season",
                     "season sale", "summer sale", "winter sale", "monsoon sale"),
}  # fmt: skip
WEAK_CUES = {
    "welcome": ("first order", "first purchase", "first-time", "first time", "joined", "naye", "intro offer",
                "hello to", "greet", "installs"),
    "thank_you": ("best customers", "top customers", "top spenders", "best buyers", "regulars", "gift"),
    "upsell": ("premium", "tier", "switch to", "second item", "2nd item", "repeat buyers"),
    "launch": ("new ", "is back", "are back"),
}  # fmt: skip
INTENTS = (*STRONG_CUES, "promotion")  # "promotion": any other offer
OCCASIONS = ("Diwali", "Holi", "Eid", "Christmas", "New Year", "Navratri", "Pongal", "Onam", "Rakhi", "Black Friday")
_SLIP_LENGTH = 6  # cue words at least this long are also found with a slip of typing


@dataclass(frozen=True)
class Intent:
    kind: str  # one of INTENTS
    occasion: str | None = None


def read_objective(objective: str) -> Intent:
    """The intent and occasion an objective states (its offer is `engine.ai.messages.offer`'s to read)."""
    text = " ".join(objective.lower().replace("’", "'").split())
    words = re.findall(r"[a-z']+", text)
    kind = next(
        (kind for cues in (STRONG_CUES, WEAK_CUES) for kind, said in cues.items() if _says(text, words, said)),
        "promotion",
    )
    occasion = next((name for name in OCCASIONS if re.search(rf"\b{name.lower()}\b", text)), None)
    return Intent(kind, occasion)


def _says(text: str, words: list[str], cues: tuple[str, ...]) -> bool:
    return any(re.search(rf"(?<![a-z]){re.escape(cue)}", text) or _slipped(words, cue) for cue in cues)


def _slipped(words: list[str], cue: str) -> bool:
    """Whether a word is the cue (or starts like it) with one slip of typing: a letter missing, added or swapped."""
    if " " in cue or len(cue) < _SLIP_LENGTH:
        return False
    return any(_one_slip(start, cue) for word in words for start in {word[: len(cue) + shift] for shift in (-1, 0, 1)})


def _one_slip(typed: str, meant: str) -> bool:
    if len(typed) == len(meant) - 1:
        return any(meant[:index] + meant[index + 1 :] == typed for index in range(len(meant)))
    if len(typed) == len(meant) + 1:
        return _one_slip(meant, typed)
    if len(typed) != len(meant):
        return False
    differ = [index for index in range(len(meant)) if typed[index] != meant[index]]
    return (
        len(differ) == 2
        and differ[1] == differ[0] + 1
        and typed[differ[0]] == meant[differ[1]]
        and typed[differ[1]] == meant[differ[0]]
    )
