"""Reading the values inside a clause: counts, amounts, comparisons, time windows, dates, places and text.

Each reader takes the text and a position and returns what it read with the position after it, or None;
none of them consumes anything on failure, so the clause readers can try one after another.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from engine.ai.language.lexicon import (
    AGO,
    AMOUNT,
    CALENDAR,
    COMPARATOR,
    DATE,
    DURATION,
    FESTIVALS,
    FILLER,
    FLAGS,
    KNOWN_PLACE,
    MONTHS,
    NEW_PLACE,
    POSTFIX,
    TIMES_WORDS,
    WHOLE,
    WINDOWS,
    Place,
    amount_value,
    comparator_op,
    date_text,
    days_in,
    known_place,
    postfix_op,
    whole_number,
)

Number = int | float

_SPACE = re.compile(r"\s*")
_COUNT = re.compile(rf"(?:(?P<n>{WHOLE})(?:\s*(?:times|x)\b)?|(?P<times>{'|'.join(TIMES_WORDS)})\b)", FLAGS)
_MONEY = re.compile(AMOUNT, FLAGS)
_COMPARATOR = re.compile(COMPARATOR, FLAGS)
_POSTFIX = re.compile(rf"\s*{POSTFIX}(?!\w)", FLAGS)
_BETWEEN = re.compile(r"between\s+", FLAGS)
_FROM = re.compile(r"from\s+", FLAGS)
_BETWEEN_AND = re.compile(r"\s*(?:and|to|-|–|—)\s*", FLAGS)
_FROM_TO = re.compile(r"\s*(?:to|-|–|—)\s*", FLAGS)
_WINDOWS = tuple(re.compile(pattern, FLAGS) for pattern in WINDOWS)
_AGO = re.compile(AGO, FLAGS)
_DURATION = re.compile(DURATION, FLAGS)
_DATE = re.compile(DATE, FLAGS)
_DATE_OPS = {"before": "<", "prior to": "<", "after": ">", "since": ">=", "on or after": ">=",
             "on or before": "<=", "until": "<=", "by": "<="}  # fmt: skip
_DATE_COMPARISON = re.compile(
    r"(?P<dop>on\s+or\s+before|on\s+or\s+after|before|after|since|prior\s+to|until)\s+", FLAGS
)
_KNOWN_PLACE = re.compile(KNOWN_PLACE, FLAGS)
_NEW_PLACE = re.compile(NEW_PLACE)  # case-sensitive: an unknown place must be written with a capital
_NOT_A_PLACE = re.compile(
    rf"(?:last|past|previous|next|this|an?|recent|{'|'.join(MONTHS)}|{'|'.join(FESTIVALS)})\b", FLAGS
)
_CALENDAR = re.compile(CALENDAR, FLAGS)
_LIST_SEPARATOR = re.compile(r"\s*,\s*(?:or\s+|and\s+)?|\s+(?:or|and|&)\s+|\s*/\s*", FLAGS)
_QUOTED = re.compile(r"\"(?P<a>[^\"]+)\"|'(?P<b>[^']+)'|“(?P<c>[^”]+)”")
_BARE = re.compile(r"[\w@.+\-/]*\w")
_RESERVED = re.compile(
    r"(?:and|or|but|not|in|who|whose|with|that|which|than|is|are|was|were|the|last|past|over|under)\b", FLAGS
)


def skip_space(text: str, pos: int) -> int:
    found = _SPACE.match(text, pos)
    return found.end() if found else pos


def match_at(pattern: re.Pattern[str], text: str, pos: int) -> re.Match[str] | None:
    """`pattern` matched at `pos` after any spaces."""
    return pattern.match(text, skip_space(text, pos))


@dataclass(frozen=True)
class Stretch:
    """Where in the text something was read: [start, end)."""

    start: int
    end: int


@dataclass(frozen=True)
class Comparison(Stretch):
    """ "over ₹10K", "at least 3 times", "between 2 and 5": an operator and its one or two numbers."""

    op: str
    values: tuple[Number, ...]


@dataclass(frozen=True)
class Days(Stretch):
    """A number of days read from "in the last 30 days", "3 months ago" or "for 90 days", and how it compares."""

    days: int
    op: str | None = None  # for "... ago": ">" (more than), "<" (less than), or None when not said
    note: str | None = None  # how an ambiguous window was read ("last month" as the last 30 days)


@dataclass(frozen=True)
class DateComparison(Stretch):
    """A date test: `op` is a comparison, "between" (both ends in), or "during" (from the first date up to,
    not including, the second); `note` says how a word was dated ("Diwali" as 2025-10-20)."""

    op: str
    values: tuple[str, ...]
    note: str | None = None


@dataclass(frozen=True)
class Places(Stretch):
    places: tuple[Place, ...]


@dataclass(frozen=True)
class Texts(Stretch):
    values: tuple[str, ...]


def number(text: str, pos: int, kind: str) -> tuple[Number, int] | None:
    """A count ("3", "three", "twice", "5 times") or an amount of money ("₹10K", "Rs 1.5 lakh")."""
    if kind == "count":
        found = match_at(_COUNT, text, pos)
        if found is None:
            return None
        value = TIMES_WORDS[found.group("times").lower()] if found.group("times") else whole_number(found.group("n"))
        return value, found.end()
    found = match_at(_MONEY, text, pos)
    return (amount_value(found), found.end()) if found else None


def comparison(text: str, pos: int, kind: str) -> Comparison | None:
    """A comparison in words or symbols with its number(s); a number alone means "exactly"."""
    start = skip_space(text, pos)
    for opener, separator in ((_BETWEEN, _BETWEEN_AND), (_FROM, _FROM_TO)):
        found = opener.match(text, start)
        if found:
            low = number(text, found.end(), kind)
            middle = separator.match(text, low[1]) if low else None
            high = number(text, middle.end(), kind) if middle else None
            if low and high:
                return Comparison(start, high[1], "between", tuple(sorted((low[0], high[0]))))
            return None
    found = _COMPARATOR.match(text, start)
    if found:
        value = number(text, found.end(), kind)
        return Comparison(start, value[1], comparator_op(found.group("comparator")), (value[0],)) if value else None
    value = number(text, start, kind)
    if value is None:
        return None
    postfix = _POSTFIX.match(text, value[1])
    if postfix:
        return Comparison(start, postfix.end(), postfix_op(postfix.group("postfix")), (value[0],))
    dash = _FROM_TO.match(text, value[1])
    high = number(text, dash.end(), kind) if dash else None
    if high:
        return Comparison(start, high[1], "between", tuple(sorted((value[0], high[0]))))
    return Comparison(start, value[1], "=", (value[0],))


def window(text: str, pos: int) -> Days | None:
    """ "in the last 30 days", "last month", "over the past 2 weeks", "within 90 days", "yesterday"."""
    for pattern in _WINDOWS:
        found = match_at(pattern, text, pos)
        if found is not None:
            said = found.groupdict()
            days = 1 if said.get("yesterday") else days_in(said["count"], said["unit"])
            note = None
            if said.get("unit", "").lower() in ("month", "year") and not said.get("count"):
                note = f"“{found.group().strip()}” was read as the last {days} days."
            return Days(found.start(), found.end(), days, note=note)
    return None


def ago(text: str, pos: int) -> Days | None:
    """ "more than 60 days ago" (op ">"), "less than 2 weeks ago" (op "<"), "90 days ago" (op None)."""
    found = match_at(_AGO, text, pos)
    if found is None:
        return None
    said = found.group("comparator")
    op = None if said is None else {">=": ">", ">": ">", "<": "<", "<=": "<"}.get(comparator_op(said))
    return Days(found.start(), found.end(), days_in(found.group("count"), found.group("unit")), op)


def duration(text: str, pos: int) -> Days | None:
    """ "for 90 days", "for over 3 months", "in over 90 days"."""
    found = match_at(_DURATION, text, pos)
    return Days(found.start(), found.end(), days_in(found.group("count"), found.group("unit"))) if found else None


def date_comparison(text: str, pos: int, today: date) -> DateComparison | None:
    """ "before 2025-01-01", "since 1 March 2025", "between 2025-01-01 and 2025-03-31", and dates counted from
    `today`: "this month", "since March", "in February", "since Diwali"."""
    start = skip_space(text, pos)
    calendar = _CALENDAR.match(text, start)
    if calendar:
        return _calendar_date(calendar, today)
    between = _BETWEEN.match(text, start)
    if between:
        low = _DATE.match(text, between.end())
        middle = _BETWEEN_AND.match(text, low.end()) if low else None
        high = _DATE.match(text, middle.end()) if middle else None
        if low and high:
            return DateComparison(start, high.end(), "between", tuple(sorted((date_text(low), date_text(high)))))
        return None
    said = _DATE_COMPARISON.match(text, start)
    found = _DATE.match(text, said.end()) if said else None
    if said is None or found is None:
        return None
    return DateComparison(start, found.end(), _DATE_OPS[re.sub(r"\s+", " ", said.group("dop").lower())],
                          (date_text(found),))  # fmt: skip


def _calendar_date(found: re.Match[str], today: date) -> DateComparison | None:
    start, end = found.start(), found.end()
    if found.group("this"):
        unit = found.group("this_unit").lower()
        first = {"month": today.replace(day=1), "year": today.replace(month=1, day=1)}.get(unit)
        if first is None:  # this week: since Monday
            first = date.fromordinal(today.toordinal() - today.weekday())
        return DateComparison(start, end, ">=", (first.isoformat(),))
    if found.group("month_name"):
        month = MONTHS[found.group("month_name").lower()]
        year = today.year if month <= today.month else today.year - 1
        first = date(year, month, 1)
        if found.group("cal_op").lower() in ("since", "from"):
            return DateComparison(start, end, ">=", (first.isoformat(),))
        following = date(year + month // 12, month % 12 + 1, 1)
        return DateComparison(start, end, "during", (first.isoformat(), following.isoformat()))
    name = found.group("festival").lower()
    days = [date(year, *month_day) for year, month_day in FESTIVALS[name].items() if date(year, *month_day) <= today]
    if not days:
        return None
    day = max(days)
    op = {"since": ">=", "after": ">", "before": "<"}[found.group("fest_op").lower()]
    note = f"“{found.group('festival')}” was taken as {day:%-d %B %Y}."
    return DateComparison(start, end, op, (day.isoformat(),), note)


def place(text: str, pos: int) -> tuple[Place, int] | None:
    """A known city or country ("Bombay" is Mumbai), or an unknown capitalised name taken as a city."""
    start = skip_space(text, pos)
    found = _KNOWN_PLACE.match(text, start)
    if found:
        return known_place(found.group("known")), found.end()
    found = _NEW_PLACE.match(text, start)
    if found is None or _NOT_A_PLACE.match(text, start) or FILLER.fullmatch(found.group("new").split()[0]):
        return None
    return Place("city", found.group("new")), found.end()


def places(text: str, pos: int) -> Places | None:
    """One place or a list: "Mumbai or Delhi", "Pune, Nagpur and Goa" (a list means any of them)."""
    first = place(text, pos)
    if first is None:
        return None
    found, end = [first[0]], first[1]
    while (separator := _LIST_SEPARATOR.match(text, end)) and (following := place(text, separator.end())):
        found.append(following[0])
        end = following[1]
    return Places(skip_space(text, pos), end, tuple(found))


def text_values(
    text: str, pos: int, field: str, any_first_word: bool = True, starts_clause: Callable[[int], bool] | None = None
) -> Texts | None:
    """One text value (quoted, or a single word) or a list of them: "gold", "gold or silver", "'A', 'B'".

    An unquoted first word must be capitalised unless `any_first_word`; a later one must be capitalised or not
    start a clause of its own (`starts_clause`), so "gold or opened an email" stops after "gold". For `city` and
    `country` a known place is written the way the data has it ("Bombay" is "Mumbai", "India" is "IN").
    """
    first = _text_value(text, pos, field, any_first_word)
    if first is None:
        return None
    found, end = [first[0]], first[1]
    while separator := _LIST_SEPARATOR.match(text, end):
        following = _text_value(text, separator.end(), field, True)
        if following is None or (
            not following[2] and starts_clause is not None and starts_clause(skip_space(text, separator.end()))
        ):
            break
        found.append(following[0])
        end = following[1]
    return Texts(skip_space(text, pos), end, tuple(found))


def _text_value(text: str, pos: int, field: str, any_word: bool) -> tuple[str, int, bool] | None:
    """A value, where it ends, and whether it is unmistakably a value (quoted, capitalised or a known place)."""
    start = skip_space(text, pos)
    quoted = _QUOTED.match(text, start)
    if quoted:
        return next(group for group in quoted.groups() if group is not None), quoted.end(), True
    known = place(text, start) if field in ("city", "country") and _KNOWN_PLACE.match(text, start) else None
    if known and known[0].field == field:
        return known[0].value, known[1], True
    bare = _BARE.match(text, start)
    if bare is None or _RESERVED.fullmatch(bare.group()):
        return None
    capitalised = bare.group()[0].isupper()
    if not any_word and not capitalised:
        return None
    return bare.group(), bare.end(), capitalised
