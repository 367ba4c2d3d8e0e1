"""Every rule read back as one plain-English sentence, for the builder, the AI's answers and campaign logs.

"customers whose total spend is over 10,000 and whose order count is under 3, or whose last order was
more than 90 days ago". Top-level groups separate their parts with commas; deeper groups are bracketed,
so the sentence keeps the tree's meaning.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from engine.features.catalog import TRAIT_PREFIX, Catalog, Feature, FeatureType, base_catalog
from engine.segments.rules import (
    And,
    Condition,
    NeverPerformed,
    Not,
    Or,
    Performed,
    PropertyFilter,
    Rule,
    Scalar,
    Value,
)

_FIELD_VERBS = {
    "=": "is {}",
    "!=": "is not {}",
    "<": "is under {}",
    "<=": "is at most {}",
    ">": "is over {}",
    ">=": "is at least {}",
    "between": "is between {} and {}",
    "in": "is one of {}",
    "not in": "is none of {}",
    "contains": "contains {}",
    "starts with": "starts with {}",
    "is set": "is set",
    "is not set": "is not set",
    "within last days": "is within the last {} days",
    "more than days ago": "is more than {} days ago",
}
_TIME_VERBS = {
    "<": "was before {}",
    "<=": "was on or before {}",
    ">": "was after {}",
    ">=": "was on or after {}",
    "between": "was between {} and {}",
    "within last days": "was within the last {} days",
    "more than days ago": "was more than {} days ago",
}
_PROPERTY_VERBS = {
    "=": "{}",
    "!=": "other than {}",
    "<": "under {}",
    "<=": "at most {}",
    ">": "over {}",
    ">=": "at least {}",
    "in": "one of {}",
    "not in": "none of {}",
    "contains": "containing {}",
    "starts with": "starting with {}",
    "is set": "set",
    "is not set": "not set",
}


def describe(rule: Rule, catalog: Catalog | None = None) -> str:
    """The rule as one sentence starting with "customers"."""
    return f"customers {_phrase(rule, catalog, depth=0)}"


def _phrase(node: Rule, catalog: Catalog | None, depth: int) -> str:
    if isinstance(node, And | Or):
        parts = [_phrase(child, catalog, depth + 1) for child in node.children]
        if len(parts) == 1:
            return parts[0]
        nested = any(isinstance(child, And | Or) for child in node.children)
        comma = "," if depth == 0 and nested else ""
        sentence = f"{comma} {node.tag} ".join(parts)
        return f"({sentence})" if depth >= 2 else sentence
    if isinstance(node, Not):
        return f"who are not among those {_phrase(node.child, catalog, depth + 1)}"
    if isinstance(node, Condition):
        return _condition(node, _feature(node.field, catalog))
    if isinstance(node, Performed):
        window = f" in the last {node.within_days} days" if node.within_days else ""
        return f"who performed {node.event}{_filters(node.where)} {_times(node.op, node.count)}{window}"
    if isinstance(node, NeverPerformed):
        if node.within_days:
            return f"who did not perform {node.never}{_filters(node.where)} in the last {node.within_days} days"
        return f"who never performed {node.never}{_filters(node.where)}"
    raise TypeError(f"not a rule node: {node!r}")


def _feature(name: str, catalog: Catalog | None) -> Feature:
    known = (catalog or base_catalog()).get(name)
    if known is not None:
        return known
    label = name.removeprefix(TRAIT_PREFIX).replace("_", " ")
    return Feature(name=name, type=FeatureType.STRING, label=label, description="")


def _condition(condition: Condition, feature: Feature) -> str:
    verbs = _FIELD_VERBS
    if feature.type is FeatureType.DATETIME:
        verbs = {**_FIELD_VERBS, **_TIME_VERBS}
    verb = verbs[condition.op]
    value = condition.value
    moment = feature.type in (FeatureType.DATETIME, FeatureType.DATE)
    if condition.op in ("within last days", "more than days ago"):
        text = verb.format(value)
    elif isinstance(value, tuple) and condition.op == "between":
        text = verb.format(*(_value(item, moment) for item in value))
    else:
        text = verb.format(_values(value, moment))
    return f"whose {feature.label} {text}"


def _filters(filters: tuple[PropertyFilter, ...]) -> str:
    if not filters:
        return ""
    parts = [f"{item.property} {_PROPERTY_VERBS[item.op].format(_values(item.value))}" for item in filters]
    return " with " + " and ".join(parts)


def _times(op: str, count: int) -> str:
    amount = {1: "once", 2: "twice"}.get(count, f"{count:,} times")
    return f"{op} {amount}"


def _values(value: Value | None, moment: bool = False) -> str:
    if isinstance(value, tuple):
        return ", ".join(_value(item, moment) for item in value)
    return "" if value is None else _value(value, moment)


def _value(value: Scalar, moment: bool = False) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{int(value):,}" if value.is_integer() else f"{value:,}"
    return _moment(value) if moment else f'"{value}"'


def _moment(text: str) -> str:
    """A date or date-time written the short way: `2025-01-31` or `2025-01-31 09:30 UTC`."""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")
