"""The conditions the local parser recognises, each read from one stretch of the text (a clause).

A clause is one condition: "spent over ₹10K in the last 90 days", "in Mumbai or Delhi", "opted in to SMS",
"opened at least 2 emails last month", "whose city is Pune", "inactive for 90 days". `Clauses.at(pos)`
tries each kind of clause at a position, most specific first, and gives the condition and where it ends,
or a problem naming the words that cannot become a condition and why (a spend window the catalog has no
feature for, "inactive" without saying for how long).

Words map to catalog features through each feature's name and label plus `FIELD_SYNONYMS`; spend and
order counts over a window use the windowed features (`spend_90d`, `orders_30d`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from engine.ai.errors import Unparsed
from engine.ai.language import values
from engine.ai.language.lexicon import (
    EVENTS,
    FEATURE_WINDOWS,
    FIELD_SYNONYMS,
    FLAGS,
    KNOWN_PLACE,
    WINDOW_FIELDS,
    compile_words,
)
from engine.ai.language.nodes import Node, condition, join, performed
from engine.ai.language.terms import Terms
from engine.ai.language.values import Comparison, DateComparison, Days, match_at
from engine.features.catalog import Catalog, Feature, FeatureType


@dataclass(frozen=True)
class Clause:
    """A condition read from the text up to `end`, or the problem that stopped it; the team terms it assumed
    (start, end, meaning) and notes on how it read words."""

    end: int
    node: Node | None
    problem: Unparsed | None = None
    assumed: tuple[tuple[int, int, str], ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Slots:
    end: int
    counted: Comparison | None
    window: Days | None
    dated: DateComparison | None


@dataclass(frozen=True)
class Measure:
    """Something counted or summed per customer, and the ways people say it.

    `verb` may take an `object` with a count between them ("placed 3 orders", "opened 2 emails"); `noun`
    follows a count ("more than 5 orders", "over ₹10K spent", "at least 2 email opens").
    """

    kind: str  # "orders", "spend" or "event"
    verb: re.Pattern[str] | None
    object: re.Pattern[str] | None = None
    object_required: bool = False
    noun: re.Pattern[str] | None = None
    event: str | None = None

    @property
    def value_kind(self) -> str:
        return "money" if self.kind == "spend" else "count"


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, FLAGS)


_ORDER_OBJECT = _re(r"(?:an?\s+|any\s+|their\s+)?(?:orders?|purchases?|transactions?|visits?)\b")
MEASURES = (
    *(
        Measure("event", _re(rf"(?:{p.verb})\b"), _re(p.object), not p.object_optional, _re(p.noun), p.event)
        for p in EVENTS
    ),
    Measure("orders", _re(r"(?:placed|made|completed)\b"), _ORDER_OBJECT, object_required=True),
    Measure(
        "spend",
        _re(
            r"(?:spen(?:t|ds?|ding)|splurged|paid|(?:shelled|forked|splashed)\s+out)\b(?:\s+(?:a\s+total\s+of|in\s+total|overall|total)\b)?"
        ),
        noun=_re(
            r"(?:(?:in|of)\s+)?(?:total\s+)?(?:spend(?:ing)?|spent|spenders?|revenue)\b"
            r"|(?:in|worth\s+of)\s+(?:purchases|orders|shopping)\b"
            r"|(?:bought|purchased|shopped)\b"  # "5000 se zyada kharida": more than 5000 bought
        ),
    ),
    Measure(
        "orders",
        _re(
            r"(?:order(?:ed|s)?|purchas(?:ed|es|e)|bought|buys?|shopped|transacted|checked\s+out|converted|"
            r"visited)\b"
        ),
        _ORDER_OBJECT,
        noun=_re(r"(?:orders?|purchases?|transactions?|visits?|ordered|bought|purchased)\b"),
    ),
)
SPEND = next(measure for measure in MEASURES if measure.kind == "spend")
_OBJECT_FILLER = _re(
    r"(?:anything|something|any|from\s+us|with\s+us|online|again|in\s+total|overall|in\s+all|so\s+far|ever|"
    r"items?|products?|money|times|at\s+all|was|is|were|of|worth(?:\s+of)?|yet)\b"
)
_MONEY_SAID = _re(r".*(?:[₹$€£]|\brs\b|\binr\b|\d\s?(?:k|l|lakhs?|lacs?|cr|crores?|m|mn|thousand|million)\b)")
_WORTH = _re(r"\s*(?:worth|rupees|rs\b)")

_VOCABULARY = (
    (_re(r"repeat\s+(?:customers|buyers|shoppers|purchasers)\b"), ("order_count", ">=", 2)),
    (_re(r"(?:one-?time|single-?purchase|first-?time)\s+(?:customers|buyers|shoppers|purchasers)\b"),
     ("order_count", "=", 1)),
    (_re(r"(?:non-?buyers|non-?purchasers|never-?buyers|prospects)\b"), ("order_count", "=", 0)),
    (_re(r"(?:paying\s+customers|buyers|purchasers)\b"), ("order_count", ">=", 1)),
)  # fmt: skip

_CHANNEL = (
    r"(?P<channel>sms|text(?:\s+messages?)?|texts|whatsapp|e-?mails?(?:\s+marketing)?|newsletters?|"
    r"push(?:\s+notifications?)?)\b"
)
_CONSENT = (
    (_re(rf"(?:opted[- ]?in|subscribed|subscribers|consented|agreed|signed\s+up|said\s+yes)\s+(?:to|for|of)\s+"
         rf"(?:receiv(?:e|ing)\s+|get(?:ting)?\s+)?(?:our\s+|the\s+)?(?:marketing\s+|promotional\s+)?{_CHANNEL}"),
     True),
    (_re(rf"{_CHANNEL}\s+(?:opt[- ]?ins?|subscribers|consented|consent|opted[- ]in|permission)\b"), True),
    (_re(rf"(?:can|may|allowed\s+to)\s+(?:be\s+)?(?:receive|get|reached|contacted|messaged)\s+(?:by\s+|via\s+|on\s+)?"
         rf"(?:marketing\s+)?{_CHANNEL}"), True),
    (_re(rf"(?:reachable|contactable)\s+(?:by|via|on)\s+{_CHANNEL}"), True),
    (_re(rf"(?:we|you)\s+(?:can|may|are\s+allowed\s+to)\s+{_CHANNEL}"), True),
    (_re(rf"(?:with|having|who\s+gave|gave|given)\s+{_CHANNEL}\s+(?:consent|permission|opt[- ]?in)\b"), True),
    (_re(rf"(?:opted[- ]?out|unsubscribed)\s+(?:of|from)\s+{_CHANNEL}"), False),
    (_re(rf"(?:without|no)\s+{_CHANNEL}\s+(?:consent|permission|opt[- ]?in)\b"), False),
    (_re(rf"{_CHANNEL}\s+(?:opt[- ]?outs?|unsubscribers|unsubscribes)\b"), False),
)  # fmt: skip

_DAYS_SINCE = _re(r"days?\s+since\s+(?:their\s+|the\s+|his\s+|her\s+)?last\s+(?:order|purchase)\b")
_INACTIVE = _re(r"(?:been\s+)?(?:inactive|lapsed|dormant|churned|idle|not\s+(?:been\s+)?active|gone\s+quiet)\b")
_FOR_OVER = _re(
    r"(?:for\s+)?(?:over|more\s+than|at\s+least)\s+(?P<count>\d+|an?)?\s*(?P<unit>days?|weeks?|months?|years?)\b"
)

_LOCATION_LEAD = _re(
    r"(?:(?:live|lives|living|based|located|residing|reside|resident|are)\s+)?(?P<neg>not\s+)?"
    r"(?P<prep>in|from|at|outside(?:\s+of)?|out\s+of)\s+"
)
_KNOWN_PLACE = _re(KNOWN_PLACE)
_BASED = _re(r"-?based\b")

_HAS = _re(r"(?:with|has|have|having)\s+(?:an?\s+|their\s+)?")
_HAS_NOT = _re(r"(?:without|missing|lacking|no)\s+(?:an?\s+|their\s+|any\s+)?")
_PRESENCE_TYPES = (FeatureType.STRING, FeatureType.CATEGORY, FeatureType.DATE, FeatureType.DATETIME)
_IS_SET = _re(r"(?:is\s+|are\s+)?(?:set|known|present|available|filled(?:\s+in)?)\b")
_IS_NOT_SET = _re(r"(?:is\s+|are\s+)?(?:not\s+set|unknown|missing|empty|blank|not\s+known|null)\b")
_NUMBER_LINK = _re(r"(?:is|was|are|of|equals?|:)(?=\s)")
_TIME_LINK = _re(r"(?:was|is|were|happened|placed|made)\b")
_TEXT_OPS = (
    (_re(r"(?:is\s+not|isn't|is\s+none\s+of|not\s+in|!=|not)\s+(?:one\s+of\s+|in\s+)?"), "not in"),
    (_re(r"(?:is\s+one\s+of|is\s+any\s+of|is\s+in|in|one\s+of|among)\s+"), "in"),
    (_re(r"(?:contains|includes|containing|including)\s+"), "contains"),
    (_re(r"(?:starts|begins|starting|beginning)\s+with\s+"), "starts with"),
    (_re(r"(?:is|=|equals?|:|of|was)\s*"), "in"),
    (_re(r""), "bare"),  # "city Mumbai", "country IN": only a quoted, capitalised or known value
)
_TRUE = _re(r"(?:is\s+|=\s*|:\s*)?(?P<yes>true|yes|on|given|granted)\b|(?:is\s+|=\s*|:\s*)?(?:false|no|off|revoked)\b")


class Clauses:
    """Reads one condition at a time from `text`, with the features of `catalog`."""

    def __init__(self, text: str, catalog: Catalog, today: date, terms: Terms | None) -> None:
        self.text = text
        self.catalog = catalog
        self.today = today
        self.terms = terms
        phrases: dict[str, Feature] = {}
        for feature in catalog:
            names = (feature.name, feature.name.replace("_", " "), feature.label, *FIELD_SYNONYMS.get(feature.name, ()))
            for name in names:
                phrases.setdefault(_normal(name), feature)
        self._features = phrases
        escaped = (re.escape(phrase).replace(r"\ ", r"\s+") for phrase in phrases)
        self._field = _re(rf"(?:{compile_words(*escaped)})(?![\w-])")
        self._readers: tuple[Callable[[int], Clause | None], ...] = (
            self._vocabulary, self._days_since, self._consent, self._inactive, self._location, self._presence,
            self._named_field, self._measure, self._window_first, self._term, self._field_clause,
        )  # fmt: skip

    def over(self, text: str, with_terms: bool = True) -> Clauses:
        """The same reader over another text of the same length (a part of this one, the rest blanked)."""
        return Clauses(text, self.catalog, self.today, self.terms if with_terms else None)

    def at(self, pos: int) -> Clause | None:
        """The condition that starts at `pos` (after spaces), or None when no kind of clause starts there."""
        for read in self._readers:
            clause = read(pos)
            if clause is not None:
                return clause
        return None

    def _starts_clause(self, pos: int) -> bool:
        return self.at(pos) is not None

    def _named_field(self, pos: int) -> Clause | None:
        """A feature named outright and tested ("order count is 2"), before "order" is read as a verb."""
        clause = self._field_clause(pos)
        return clause if clause is not None and clause.node is not None else None

    # --- helpers -----------------------------------------------------------------------------------------

    def _problem(self, start: int, end: int, reason: str, resume: int | None = None) -> Clause:
        """A clause that could not become a condition: the words [start, end) and why; reading goes on at `resume`."""
        start = values.skip_space(self.text, start)
        return Clause(max(end, resume or end), None, Unparsed(start, end, self.text[start:end], reason))

    def _has(self, field: str) -> bool:
        return field in self.catalog

    def _missing_field(self, start: int, end: int, field: str) -> Clause:
        return self._problem(start, end, f"this needs the feature `{field}`, which the catalog does not have")

    def _feature_at(self, pos: int) -> tuple[Feature, int] | None:
        found = match_at(self._field, self.text, pos)
        if found is None:
            return None
        return self._features[_normal(found.group())], found.end()

    # --- clause readers ------------------------------------------------------------------------------------

    def _vocabulary(self, pos: int) -> Clause | None:
        for pattern, (field, op, value) in _VOCABULARY:
            found = match_at(pattern, self.text, pos)
            if found:
                if not self._has(field):
                    return self._missing_field(pos, found.end(), field)
                return Clause(found.end(), condition(field, op, value))
        return None

    def _term(self, pos: int) -> Clause | None:
        """A vague word of the team's ("VIPs", "lapsed"): its definition, said as an assumption."""
        start = values.skip_space(self.text, pos)
        found = self.terms.match(self.text, start) if self.terms is not None else None
        if found is None:
            return None
        term, end = found
        return Clause(end, term.rule, assumed=((start, end, term.meaning),))

    def _window_first(self, pos: int) -> Clause | None:
        """A window said before what it counts: "in the last 30 days more than 1 ordered" (Hinglish order)."""
        window = values.window(self.text, pos)
        clause = self._measure(window.end, window) if window is not None else None
        return clause if clause is not None and clause.node is not None else None

    def _days_since(self, pos: int) -> Clause | None:
        """ "more than 45 days since their last order": the days are counted before the feature is named."""
        counted = values.comparison(self.text, pos, "count")
        said = match_at(_DAYS_SINCE, self.text, counted.end) if counted else None
        if counted is None or said is None:
            return None
        return self._numeric("days_since_last_order", pos, said.end(), counted, None)

    def _consent(self, pos: int) -> Clause | None:
        for pattern, agreed in _CONSENT:
            found = match_at(pattern, self.text, pos)
            if found is None:
                continue
            channel = found.group("channel").lower()
            if channel.startswith(("whatsapp", "push")):
                return self._problem(pos, found.end(), f"there is no consent feature for {channel}")
            field = "sms_consent" if channel.startswith(("sms", "text")) else "email_consent"
            if not self._has(field):
                return self._missing_field(pos, found.end(), field)
            return Clause(found.end(), condition(field, "=", agreed))
        return None

    def _inactive(self, pos: int) -> Clause | None:
        found = match_at(_INACTIVE, self.text, pos)
        if found is None:
            return None
        for read in (values.duration, values.window):
            days = read(self.text, found.end())
            if days is not None:
                return self._last_order_before(pos, days.end, days.days)
        over = match_at(_FOR_OVER, self.text, found.end())
        if over:
            days_count = values.days_in(over.group("count"), over.group("unit"))
            return self._last_order_before(pos, over.end(), days_count)
        return None  # without how long, the team's term says what it means

    def _last_order_before(self, start: int, end: int, days: int) -> Clause:
        if not self._has("last_order_at"):
            return self._missing_field(start, end, "last_order_at")
        return Clause(end, condition("last_order_at", "more than days ago", days))

    def _location(self, pos: int) -> Clause | None:
        lead = match_at(_LOCATION_LEAD, self.text, pos)
        negated = False
        if lead is not None:
            negated = bool(lead.group("neg")) or lead.group("prep").lower().startswith(("outside", "out"))
            found = values.places(self.text, lead.end())
        else:  # without "in" or "from", only a place we know: "Mumbai customers", "Delhi-based"
            found = values.places(self.text, pos) if match_at(_KNOWN_PLACE, self.text, pos) else None
        if found is None:
            return None
        end = found.end
        based = _BASED.match(self.text, end)
        if based:
            end = based.end()
        node: Node | None = None
        for field in ("city", "country"):
            chosen = tuple(dict.fromkeys(place.value for place in found.places if place.field == field))
            if not chosen:
                continue
            if not self._has(field):
                return self._missing_field(pos, end, field)
            if len(chosen) == 1:
                part = condition(field, "!=" if negated else "=", chosen[0])
            else:
                part = condition(field, "not in" if negated else "in", chosen)
            node = join("and" if negated else "or", node, part)
        return Clause(end, node)

    def _presence(self, pos: int) -> Clause | None:
        for pattern, op in ((_HAS, "is set"), (_HAS_NOT, "is not set")):
            lead = match_at(pattern, self.text, pos)
            found = self._feature_at(lead.end()) if lead else None
            if found is None:
                continue
            feature, end = found
            tested = self._field_clause(lead.end()) if lead else None
            if feature.type not in _PRESENCE_TYPES or (tested is not None and tested.node is not None):
                continue  # "with a city of Pune" tests the value, not whether there is one
            return Clause(end, condition(feature.name, op))
        return None

    def _measure(self, pos: int, window: Days | None = None) -> Clause | None:
        start = values.skip_space(self.text, pos)
        for measure in MEASURES:
            if measure.noun is None:
                continue
            counted = values.comparison(self.text, start, measure.value_kind)
            noun = match_at(measure.noun, self.text, counted.end) if counted else None
            if counted and noun and (measure.kind != "spend" or self._is_money(counted, noun.group())):
                return self._measure_slots(measure, start, noun.end(), counted, window)
        for measure in MEASURES:
            verb = match_at(measure.verb, self.text, start) if measure.verb else None
            if verb is None:
                continue
            end, counted = verb.end(), None
            money = values.comparison(self.text, end, "money") if measure.kind == "orders" else None
            if money is not None and self._is_money(money, ""):  # "bought over ₹5000 worth": spend
                return self._measure_slots(SPEND, start, money.end, money, window)
            if measure.object is not None:
                inner = values.comparison(self.text, end, measure.value_kind)
                thing = match_at(measure.object, self.text, inner.end if inner else end)
                if thing is None and measure.object_required:
                    continue
                if thing is not None:
                    end, counted = thing.end(), inner
            return self._measure_slots(measure, start, end, counted, window)
        return None

    def _is_money(self, counted: Comparison, noun: str) -> bool:
        """Whether an amount is money: after a spend word any number is; before "bought", 100 or more; after it,
        only said with a currency, lakh, crore, k or M, or followed by "worth"."""
        if noun and not re.match(r"bought|purchased|shopped", noun, FLAGS):
            return True
        said = self.text[counted.start : counted.end]
        large = bool(noun) and min(counted.values) >= 100  # "5000 bought" is rupees; "3 bought" is orders
        return large or bool(_MONEY_SAID.match(said) or _WORTH.match(self.text, counted.end))

    def _measure_slots(
        self, measure: Measure, start: int, end: int, counted: Comparison | None, window: Days | None = None
    ) -> Clause:
        """The rest of a measure's clause: a count or amount, a time window, a date, words that add nothing."""
        slots = self._slots(end, measure.value_kind, counted, dates=measure.kind == "orders", window=window)
        clause = self._measure_condition(measure, start, slots)
        notes = tuple(note for note in (slots.window.note if slots.window else None,
                                        slots.dated.note if slots.dated else None) if note)  # fmt: skip
        return Clause(clause.end, clause.node, clause.problem, notes=notes) if notes else clause

    def _measure_condition(self, measure: Measure, start: int, slots: _Slots) -> Clause:
        end, counted, window, dated = slots.end, slots.counted, slots.window, slots.dated
        if measure.kind == "event":
            assert measure.event is not None
            return self._event(measure.event, start, end, counted, window)
        if measure.kind == "spend":
            return self._numeric("total_spend", start, end, counted or Comparison(end, end, ">", (0,)), window)
        if dated is not None:
            return self._ordered_on(start, end, dated, counted, window)
        if counted is not None:
            return self._numeric("order_count", start, end, counted, window)
        if window is not None:
            if not self._has("last_order_at"):
                return self._missing_field(start, end, "last_order_at")
            return Clause(end, condition("last_order_at", "within last days", window.days))
        return self._numeric("order_count", start, end, Comparison(end, end, ">=", (1,)), None)

    def _slots(
        self, end: int, kind: str, counted: Comparison | None, dates: bool, window: Days | None = None
    ) -> _Slots:
        """A count or amount, a time window and (for orders) a date, in any order, skipping words that add nothing."""
        dated: DateComparison | None = None
        while True:
            if window is None and (found_window := values.window(self.text, end)):
                window, end = found_window, found_window.end
            elif counted is None and (found_count := values.comparison(self.text, end, kind)):
                counted, end = found_count, found_count.end
            elif dated is None and dates and (found_date := values.date_comparison(self.text, end, self.today)):
                dated, end = found_date, found_date.end
            elif filler := match_at(_OBJECT_FILLER, self.text, end):
                end = filler.end()
            else:
                return _Slots(end, counted, window, dated)

    def _ordered_on(
        self, start: int, end: int, dated: DateComparison, counted: Comparison | None, window: Days | None
    ) -> Clause:
        """ "ordered since 2025-01-01" is a last order on or after it; "ordered before ..." a first order before it."""
        if counted is not None or window is not None or dated.op in ("between", "during"):
            return self._problem(start, end, "say either a date or a count and window for orders, not both")
        field = "first_order_at" if dated.op in ("<", "<=") else "last_order_at"
        if not self._has(field):
            return self._missing_field(start, end, field)
        return Clause(end, condition(field, dated.op, dated.values[0]))

    def _numeric(self, field: str, start: int, end: int, counted: Comparison, window: Days | None) -> Clause:
        """A condition on a number feature, on its windowed twin when a window was said (spend_90d)."""
        if window is not None:
            if field not in WINDOW_FIELDS:
                return self._problem(window.start, window.end, f"{field} has no time window", end)
            windowed = WINDOW_FIELDS[field].format(window.days)
            if window.days not in FEATURE_WINDOWS or not self._has(windowed):
                label = "spend" if field == "total_spend" else "order counts"
                reason = f"{label} are known for the last 30, 90 and 365 days only; say one of those"
                return self._problem(window.start, window.end, reason, end)
            field = windowed
        feature = self.catalog.get(field)
        if feature is None:
            return self._missing_field(start, end, field)
        numbers = counted.values
        if feature.type is FeatureType.INTEGER:
            if any(not float(number).is_integer() for number in numbers):
                return self._problem(counted.start, counted.end, f"{feature.label} is a whole number", end)
            numbers = tuple(int(number) for number in numbers)
        if counted.op == "between":
            return Clause(end, condition(field, "between", numbers))
        return Clause(end, condition(field, counted.op, numbers[0]))

    def _event(self, event: str, start: int, end: int, counted: Comparison | None, window: Days | None) -> Clause:
        within = window.days if window else None
        if counted is None:
            return Clause(end, performed(event, "at least", 1, within))
        if any(not float(number).is_integer() or number < 0 for number in counted.values):
            return self._problem(counted.start, counted.end, "an event is counted in whole times", end)
        low, high = int(counted.values[0]), int(counted.values[-1])
        match counted.op:
            case ">=":
                node = performed(event, "at least", low, within)
            case ">":
                node = performed(event, "at least", low + 1, within)
            case "<=":
                node = performed(event, "at most", low, within)
            case "<" if low > 0:
                node = performed(event, "at most", low - 1, within)
            case "=":
                node = performed(event, "exactly", low, within)
            case "between":
                both = join("and", performed(event, "at least", low, within), performed(event, "at most", high, within))
                assert both is not None
                node = both
            case _:
                return self._problem(counted.start, counted.end, "fewer than zero times cannot happen", end)
        return Clause(end, node)

    def _field_clause(self, pos: int) -> Clause | None:
        found = self._feature_at(pos)
        if found is None:
            return None
        feature, end = found
        start = values.skip_space(self.text, pos)
        for pattern, op in ((_IS_NOT_SET, "is not set"), (_IS_SET, "is set")):
            presence = match_at(pattern, self.text, end)
            if presence:
                return Clause(presence.end(), condition(feature.name, op))
        if feature.type in (FeatureType.NUMBER, FeatureType.INTEGER):
            return self._number_field(feature, start, end)
        if feature.type in (FeatureType.STRING, FeatureType.CATEGORY):
            return self._text_field(feature, end)
        if feature.type is FeatureType.BOOLEAN:
            said = match_at(_TRUE, self.text, end)
            return Clause(said.end(), condition(feature.name, "=", bool(said.group("yes")))) if said else None
        return self._time_field(feature, start, end)

    def _number_field(self, feature: Feature, start: int, end: int) -> Clause | None:
        link = match_at(_NUMBER_LINK, self.text, end)
        kind = "money" if feature.type is FeatureType.NUMBER else "count"
        slots = self._slots(link.end() if link else end, kind, None, dates=False)
        if slots.counted is None:
            return None
        if slots.window is not None and feature.name not in WINDOW_FIELDS:
            return None  # "days since last order in the last 30 days" says nothing this field can hold
        return self._numeric(feature.name, start, slots.end, slots.counted, slots.window)

    def _text_field(self, feature: Feature, end: int) -> Clause | None:
        for pattern, op in _TEXT_OPS:
            said = match_at(pattern, self.text, end)
            found = (
                values.text_values(self.text, said.end(), feature.name, op != "bare", self._starts_clause)
                if said
                else None
            )
            if found is None:
                continue
            op = "in" if op == "bare" else op
            if op in ("contains", "starts with"):
                return Clause(found.end, condition(feature.name, op, found.values[0]))
            if len(found.values) == 1:
                return Clause(found.end, condition(feature.name, "=" if op == "in" else "!=", found.values[0]))
            return Clause(found.end, condition(feature.name, op, found.values))
        return None

    def _time_field(self, feature: Feature, start: int, end: int) -> Clause | None:
        link = match_at(_TIME_LINK, self.text, end)
        after = link.end() if link else end
        window = values.window(self.text, after)
        if window is not None:
            notes = (window.note,) if window.note else ()
            return Clause(window.end, condition(feature.name, "within last days", window.days), notes=notes)
        ago = values.ago(self.text, after)
        if ago is not None:
            if ago.op is None:
                return self._problem(ago.start, ago.end, "say “more than” or “less than” that long ago")
            op = "more than days ago" if ago.op == ">" else "within last days"
            return Clause(ago.end, condition(feature.name, op, ago.days))
        dated = values.date_comparison(self.text, after, self.today)
        if dated is not None:
            notes = (dated.note,) if dated.note else ()
            if dated.op == "during":
                first, following = dated.values
                node = join("and", condition(feature.name, ">=", first), condition(feature.name, "<", following))
                return Clause(dated.end, node, notes=notes)
            value = dated.values if dated.op == "between" else dated.values[0]
            return Clause(dated.end, condition(feature.name, dated.op, value), notes=notes)
        return self._problem(
            start, end, f"say when, e.g. “{feature.label} in the last 30 days” or “… before 2025-01-01”"
        )


def _normal(phrase: str) -> str:
    return re.sub(r"\s+", " ", phrase.strip().lower())
