"""What a rule's conditions mean in plain values, decided once so every backend applies the same test.

The compilers do not interpret operators on their own: relative dates become fixed bounds computed
from the reference time, JSON values become typed Python values, and an event condition becomes a test
on a customer's count of matching events. Each backend then only translates these into its own terms.

"Within the last N days" has one meaning everywhere, `engine.features.windows`: at most N whole days ago,
as `days_since_last_order` counts them; "more than N days ago" is more than N whole days.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from engine.features.catalog import Feature, FeatureType
from engine.features.windows import earliest_within
from engine.segments.rules import Condition, NeverPerformed, Performed, PropertyFilter, Scalar
from engine.segments.validation import typed_operand

TestOperator = Literal[
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "between",
    "in",
    "not in",
    "contains",
    "starts with",
    "is set",
    "is not set",
]
CountOperator = Literal[">=", "<=", "=", "!=", "<", ">"]
ValueKind = Literal["string", "number", "boolean"]

_COUNT_OPERATORS: dict[str, Callable[[int, int], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_COMPLEMENTS: dict[str, CountOperator] = {">=": "<", "<=": ">", "=": "!=", "!=": "=", "<": ">=", ">": "<="}


@dataclass(frozen=True)
class FieldTest:
    """A condition reduced to an operator and typed operand(s): a tuple for `between`, `in`, `not in`."""

    op: TestOperator
    operand: Any


@dataclass(frozen=True)
class CountTest:
    """A test on how many matching events a customer has."""

    op: CountOperator
    count: int

    def holds(self, events: int) -> bool:
        return _COUNT_OPERATORS[self.op](events, self.count)

    def complement(self) -> CountTest:
        return CountTest(_COMPLEMENTS[self.op], self.count)


@dataclass(frozen=True)
class EventWindow:
    """Events count when `since <= occurred_at <= until`; `since` is None for "ever"."""

    since: datetime | None
    until: datetime


def reference_time(now: datetime) -> datetime:
    """The evaluation's "now" in UTC; a naive time is taken to be UTC already."""
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def field_test(condition: Condition, feature: Feature, now: datetime) -> FieldTest:
    """The condition as a fixed test; relative windows become bounds anchored at `now`."""
    value = condition.value
    if condition.op in ("within last days", "more than days ago"):
        assert isinstance(value, int)
        anchor: datetime | date = reference_time(now)
        since: datetime | date = earliest_within(reference_time(now), value)
        if feature.type is FeatureType.DATE:  # a date is as many whole days ago as days lie between
            anchor = reference_time(now).date()
            since = anchor - timedelta(days=value)
        if condition.op == "within last days":
            return FieldTest("between", (since, anchor))
        return FieldTest("<", since)
    if isinstance(value, tuple):
        return FieldTest(condition.op, tuple(typed_operand(feature, item) for item in value))  # type: ignore[arg-type]
    operand = None if value is None else typed_operand(feature, value)
    return FieldTest(condition.op, operand)  # type: ignore[arg-type]


def count_test(node: Performed | NeverPerformed) -> CountTest:
    """The test on a customer's number of matching events."""
    if isinstance(node, NeverPerformed):
        return CountTest("=", 0)
    return CountTest({"at least": ">=", "at most": "<=", "exactly": "="}[node.op], node.count)  # type: ignore[arg-type]


def event_window(node: Performed | NeverPerformed, now: datetime) -> EventWindow:
    """Which events count: those up to `now`, and at most `within_days` whole days before it if set."""
    until = reference_time(now)
    since = earliest_within(until, node.within_days) if node.within_days is not None else None
    return EventWindow(since, until)


def event_name(node: Performed | NeverPerformed) -> str:
    return node.event if isinstance(node, Performed) else node.never


def value_kind(value: Scalar | tuple[Scalar, ...] | None) -> ValueKind | None:
    """Which JSON type a property must have for a filter with this value to match it."""
    first = value[0] if isinstance(value, tuple) else value
    if first is None:
        return None
    if isinstance(first, bool):
        return "boolean"
    return "string" if isinstance(first, str) else "number"


def property_operands(item: PropertyFilter) -> tuple[Any, ...]:
    """The filter's value(s) as a tuple, numbers as floats (properties compare as JSON doubles)."""
    values = item.value if isinstance(item.value, tuple) else (item.value,)
    if value_kind(item.value) == "number":
        return tuple(float(value) for value in values if value is not None)
    return tuple(values)
