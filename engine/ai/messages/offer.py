"""The facts of an objective's offer, which every message variant must keep unchanged.

"Announce Diwali sale, up to 40% off on sarees" promises up to 40% off, on sarees: a variant saying
"40% off on everything you love" promises more than the sender gives. So the objective's facts are read
here (`offer_facts`), and every variant, from the local composer or a language model, is checked to state
each of them (`missing_facts`) before it is shown:
  - a discount or price with its qualifier: "up to 40% off", "₹500 off", "from ₹499", "above ₹999"
    (the same number, the same qualifier; "₹" and "Rs." are one currency, "1K" and "1,000" one amount);
  - free delivery, "buy 1 get 1";
  - a code, exactly as written ("COMEBACK15");
  - a date or deadline: a weekday, a day of a month ("31 Oct", "October 31st"), "tonight", "48 hours";
  - what the offer is on ("on sarees", "on select kurtas") and what is launched ("the monsoon collection").
Words of the audience ("customers who spent over ₹5,000", "inactive since 1 Oct") are not offer facts:
only amounts written as money or a discount, and dates written as a deadline, are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

FLAGS = re.IGNORECASE
QUALIFIERS = {
    "up to": ("up to", "upto", "up-to"),
    "from": ("from", "starting at", "starting from", "starts at", "starts from", "starting"),
    "above": ("above", "over", "more than", "min", "minimum", "of at least", "worth"),
    "under": ("under", "below", "less than", "within"),
    "extra": ("extra", "additional"),
}
_QUALIFIER_WORDS = "|".join(
    sorted((re.escape(word) for words in QUALIFIERS.values() for word in words), key=len, reverse=True)
)
CURRENCY_WORDS = {
    "₹": "INR", "rs.": "INR", "rs": "INR", "inr": "INR", "rupees": "INR", "rupee": "INR",
    "$": "USD", "usd": "USD", "£": "GBP", "gbp": "GBP", "aed": "AED", "€": "EUR", "eur": "EUR",
}  # fmt: skip
_BEFORE = r"(?P<before>₹|rs\.?|inr|\$|usd|£|gbp|aed|€|eur)"
_AFTER = r"(?P<after>rupees?|inr|usd|gbp|aed|eur)"
_NUMBER = r"(?P<digits>\d{1,3}(?:,\d{2,3})+|\d+)(?P<fraction>\.\d+)?(?:\s?(?P<multiplier>k|l|lakh|lakhs|m|mn)\b)?"
_MULTIPLIERS = {"k": 1_000, "l": 100_000, "lakh": 100_000, "lakhs": 100_000, "m": 1_000_000, "mn": 1_000_000}
_QUALIFIER = rf"(?:(?P<qualifier>{_QUALIFIER_WORDS})\s+)?"
_PERCENT = re.compile(rf"{_QUALIFIER}(?P<percent>\d{{1,3}})\s?(?:%|percent\b|per\s+cent\b)(?P<off>\s+off\b)?", FLAGS)
_MONEY = re.compile(rf"{_QUALIFIER}(?:{_BEFORE}\s?)?{_NUMBER}(?:\s?{_AFTER}\b)?(?P<off>\s+off\b)?", FLAGS)
_FREE_DELIVERY = re.compile(r"\bfree\s+(?:shipping|delivery)\b", FLAGS)
_BUY_GET = re.compile(r"\bbuy\s*(?P<buy>\d+)\s*get\s*(?P<get>\d+)(?P<free>\s+free\b)?", FLAGS)
# A code is written in capitals or digits ("code SAVE20"), so "a code for VIPs" names none.
_CODE = re.compile(r"\b(?i:code|coupon|promo|use)\s*[:=]?\s*(?P<code>[A-Z][A-Z0-9]{2,19}|[0-9]+[A-Z][A-Z0-9]*)\b")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = (
    r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DAY = r"(?P<day>[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_WHEN = r"(?P<when>till|until|by|ends?|ending|before|on|starts?|starting|from|through|valid\s+till)"
_DATE = re.compile(
    rf"\b(?:{_WHEN}\s+)?(?:{_DAY}\s+(?:of\s+)?{_MONTH}|{_MONTH.replace('month', 'month2')}\s+"
    rf"{_DAY.replace('day', 'day2')})\b",
    FLAGS,
)
_WEEKDAY = re.compile(rf"\b(?:{_WHEN}|this)\s+(?P<weekday>{'|'.join(WEEKDAYS)})\b", FLAGS)
_WORD_DEADLINE = re.compile(rf"\b(?:{_WHEN}\s+)?(?P<word>tonight|midnight|tomorrow|this\s+weekend)\b", FLAGS)
_HOURS = re.compile(
    r"\b(?:(?:in\s+the\s+next|next|for\s+the\s+next|for)\s+(?P<hours>\d{1,3})\s+hours?"
    r"|(?P<hours2>\d{1,3})[\s-]hours?\s+(?:deal|sale|offer|only|flash))\b",
    FLAGS,
)
_STOP = (  # where the name of what is on offer ends
    r"(?=\s*(?:[,.;:!?()|]|\s[-–—]\s|$|\s+(?:for|with|till|until|by|code|coupon|use|using|ends?|ending|from"
    r"|starting|at|to|this|today|tonight|tomorrow|and\s+free|only|valid|when|if|in|across)\b))"
)
_WORDS = r"[a-z][\w'&-]*(?:\s+[a-z][\w'&-]*){0,3}?"  # up to four words, as few as reach a stop
_ON_WHAT = re.compile(
    rf"\b(?:off|discount|deals?|sale|offers?|cashback|savings?)\s+on\s+(?:all\s+|our\s+|the\s+|every\s+)?"
    rf"(?P<what>{_WORDS}){_STOP}",
    FLAGS,
)
_LAUNCHED = re.compile(
    rf"\b(?:launch(?:ing)?|introduc(?:e|ing)|unveil(?:ing)?)\s+(?P<what>(?:the|our|a|an)\s+{_WORDS}){_STOP}", FLAGS
)
_AUDIENCE_MONEY = re.compile(r"\b(?:spen[dt]\w*|bought|purchased|lifetime|ltv|aov|order\s+value)\b[^,.;:]*$", FLAGS)
_AUDIENCE_DATE = re.compile(r"\b(?:since|after|joined|signed\s+up|registered|ordered|bought|last)\s*$", FLAGS)
_NOT_A_PRODUCT = re.compile(
    r"^(?:(?:your|their|the|a|an|any|all)\s+)?(?:next|first|every|everything|orders?|purchases?|items?|sitewide|"
    r"site|store|app|checkout|cart)\b",
    FLAGS,
)


@dataclass(frozen=True)
class OfferFact:
    """One fact of the objective: its kind, how the objective says it, and what a variant must say to keep it."""

    kind: str  # discount (a percentage or money), free_delivery, buy_get, code, date, product, launched
    said: str
    key: tuple[object, ...]  # the fact as compared: a variant keeps it when it states one with the same key


def offer_facts(objective: str) -> tuple[OfferFact, ...]:
    """The facts of the objective's offer, in the order it says them, each once."""
    facts = [*_discounts(objective), *_others(objective)]
    unique = {fact.key: fact for fact in sorted(facts, key=lambda fact: objective.lower().find(fact.said.lower()))}
    return tuple(unique.values())


def missing_facts(text: str, facts: Sequence[OfferFact]) -> list[OfferFact]:
    """The facts `text` (a variant) does not state unchanged."""
    stated = {fact.key for fact in offer_facts(text)}
    return [fact for fact in facts if fact.key not in stated and not _kept_loosely(fact, text)]


def _kept_loosely(fact: OfferFact, text: str) -> bool:
    """Facts whose key cannot be read back from any wording: a product or code is kept when its words appear."""
    if fact.kind == "code":
        return re.search(rf"\b{re.escape(fact.said)}\b", text) is not None
    if fact.kind in ("product", "launched"):
        words = r"\s+".join(re.escape(word) for word in fact.said.split())
        return re.search(rf"\b{words}\b", text, FLAGS) is not None
    return False


def qualifier_of(said: str | None) -> str | None:
    """The qualifier class ("up to", "from", ...) a qualifier word belongs to."""
    if said is None:
        return None
    said = re.sub(r"\s+", " ", said.lower())
    return next((name for name, words in QUALIFIERS.items() if said in words), None)


def amount_of(match: re.Match[str]) -> float:
    """The amount a `_MONEY` match names: "₹1K" is 1000, "Rs 1.5 lakh" 150000."""
    number = float(match["digits"].replace(",", "") + (match["fraction"] or ""))
    return number * _MULTIPLIERS[match["multiplier"].lower()] if match["multiplier"] else number


def _discounts(text: str) -> list[OfferFact]:
    facts = []
    percents = list(_PERCENT.finditer(text))
    for found in percents:
        key: tuple[object, ...] = ("discount", "%", int(found["percent"]), qualifier_of(found["qualifier"]))
        facts.append(OfferFact("discount", found[0].strip(), key))
    for found in _MONEY.finditer(text):
        if any(found.start() < other.end() and other.start() < found.end() for other in percents):
            continue
        currency = found["before"] or found["after"]
        if currency is None and found["off"] is None:
            continue  # a number, not money: "2 months", "5+ times"
        if _AUDIENCE_MONEY.search(text[max(0, found.start() - 30) : found.start()]):
            continue  # what the audience spent ("customers who spent over ₹5,000"), not what they are offered
        amount = amount_of(found)
        unit = CURRENCY_WORDS.get(currency.lower(), currency) if currency else None
        key = ("discount", unit, amount, qualifier_of(found["qualifier"]))
        facts.append(OfferFact("discount", found[0].strip(), key))
    return facts


def _others(text: str) -> list[OfferFact]:
    facts = []
    for found in _FREE_DELIVERY.finditer(text):
        facts.append(OfferFact("free_delivery", found[0], ("free_delivery",)))
    for found in _BUY_GET.finditer(text):
        facts.append(OfferFact("buy_get", found[0], ("buy_get", int(found["buy"]), int(found["get"]))))
    for found in _CODE.finditer(text):
        facts.append(OfferFact("code", found["code"], ("code", found["code"])))
    for found in _DATE.finditer(text):
        if _AUDIENCE_DATE.search(text[: found.start()]):
            continue  # when the audience did something ("inactive since 1 Oct"), not when the offer ends
        day = int(found["day"] or found["day2"])
        month = MONTHS.index((found["month"] or found["month2"]).lower()[:3]) + 1
        facts.append(OfferFact("date", found[0], ("date", day, month)))
    for found in _WEEKDAY.finditer(text):
        if _AUDIENCE_DATE.search(text[: found.start()]):
            continue
        facts.append(OfferFact("date", found[0], ("date", found["weekday"].lower())))
    for found in _WORD_DEADLINE.finditer(text):
        facts.append(OfferFact("date", found[0], ("date", re.sub(r"\s+", " ", found["word"].lower()))))
    for found in _HOURS.finditer(text):
        hours = int(found["hours"] or found["hours2"])
        facts.append(OfferFact("date", f"in the next {hours} hours", ("date", "hours", hours)))
    for kind, pattern in (("product", _ON_WHAT), ("launched", _LAUNCHED)):
        for found in pattern.finditer(text):
            what = re.sub(r"^(?:the|our|a|an)\s+", "", re.sub(r"\s+", " ", found["what"]).strip(), flags=FLAGS)
            if not _NOT_A_PRODUCT.match(what) and not _PERCENT.search(what) and not _MONEY.search(what):
                facts.append(OfferFact(kind, what, (kind, what.lower())))
    return facts
