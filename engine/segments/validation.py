"""Parsing rules from JSON and checking them against a feature catalog, with errors that say where.

`parse_rule` is the one door a rule comes in by (API, dashboard, AI): it refuses malformed JSON, rules past
the size bounds, unknown fields, operators that do not suit a field's type and values of the wrong type,
listing every problem with the node's path (`and[1].or[0]`), the field and what is wrong.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError

from engine.features.catalog import Catalog, Feature, FeatureType
from engine.postgres_safe import storable_time
from engine.segments.errors import Problem, RuleError
from engine.segments.rules import (
    RULE_ADAPTER,
    Condition,
    Rule,
    Scalar,
    Value,
    size_problem,
    walk,
)

_COMPARISONS = frozenset({"=", "!=", "<", "<=", ">", ">=", "between"})
_PRESENCE = frozenset({"is set", "is not set"})
_MEMBERSHIP = frozenset({"=", "!=", "in", "not in"})
_TEXT = frozenset({"contains", "starts with"})
_RELATIVE = frozenset({"within last days", "more than days ago"})

OPERATORS_BY_TYPE: dict[FeatureType, frozenset[str]] = {
    FeatureType.NUMBER: _COMPARISONS | _MEMBERSHIP | _PRESENCE,
    FeatureType.INTEGER: _COMPARISONS | _MEMBERSHIP | _PRESENCE,
    FeatureType.STRING: _MEMBERSHIP | _TEXT | _PRESENCE,
    FeatureType.CATEGORY: _MEMBERSHIP | _TEXT | _PRESENCE,
    FeatureType.BOOLEAN: frozenset({"=", "!="}) | _PRESENCE,
    FeatureType.DATETIME: (_COMPARISONS - {"=", "!="}) | _RELATIVE | _PRESENCE,
    FeatureType.DATE: _COMPARISONS | _RELATIVE | _PRESENCE,
}

_TAGS = ("and", "or", "not", "field", "event", "never")


def parse_rule(data: Any, catalog: Catalog | None = None) -> Rule:
    """A rule from its JSON (text, bytes or decoded), checked against `catalog` when one is given."""
    try:
        is_text = isinstance(data, str | bytes)
        rule = RULE_ADAPTER.validate_json(data) if is_text else RULE_ADAPTER.validate_python(data)
    except ValidationError as error:
        raise RuleError(_shape_problems(error)) from None
    too_large = size_problem(rule)
    if too_large is not None:
        raise RuleError([too_large])
    if catalog is not None:
        check_rule(rule, catalog)
    return rule


def dump_rule(rule: Rule) -> dict[str, Any]:
    """The rule as JSON-ready data, leaving out defaults; `parse_rule` reads it back to an equal rule."""
    data: dict[str, Any] = RULE_ADAPTER.dump_python(rule, mode="json", exclude_defaults=True)
    return data


def check_rule(rule: Rule, catalog: Catalog) -> None:
    """Raise `RuleError` listing every condition that does not fit the catalog."""
    problems = [
        problem
        for path, node in walk(rule)
        if isinstance(node, Condition)
        for problem in _condition_problems(path, node, catalog)
    ]
    if problems:
        raise RuleError(problems)


def typed_operand(feature: Feature, value: Scalar) -> Any:
    """A condition's JSON value as the Python value the field holds (datetimes and dates parsed)."""
    if feature.type is FeatureType.DATETIME:
        return _parse_datetime(value)
    if feature.type is FeatureType.DATE:
        return _parse_date(value)
    return value


def _condition_problems(path: str, condition: Condition, catalog: Catalog) -> Iterator[Problem]:
    feature = catalog.get(condition.field)
    if feature is None:
        yield Problem(path=path, field=condition.field, message=_unknown_field(condition.field, catalog))
        return
    allowed = OPERATORS_BY_TYPE[feature.type]
    if condition.op not in allowed:
        choices = ", ".join(f"`{op}`" for op in sorted(allowed))
        yield Problem(
            path=path,
            field=condition.field,
            message=f"`{condition.op}` does not apply to a {feature.type} field; use one of {choices}",
        )
        return
    if condition.op in _PRESENCE | _RELATIVE:
        return
    message = _value_problem(feature, condition.op, condition.value)
    if message is not None:
        yield Problem(path=path, field=condition.field, message=message)


def _value_problem(feature: Feature, op: str, value: Value | None) -> str | None:
    values = value if isinstance(value, tuple) else (value,)
    for item in values:
        if item is None:
            return "needs a value"
        try:
            _check_scalar(feature, item)
        except ValueError as error:
            return f"bad value {item!r}: {error}"
    if op == "between" and isinstance(value, tuple):
        low, high = (typed_operand(feature, item) for item in value)
        if low > high:
            return f"`between` needs low <= high, got [{value[0]!r}, {value[1]!r}]"
    return None


def _check_scalar(feature: Feature, value: Scalar) -> None:
    kind = feature.type
    if kind in (FeatureType.NUMBER, FeatureType.INTEGER):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{feature.name} is a {kind}; give a number")
    elif kind in (FeatureType.STRING, FeatureType.CATEGORY):
        if not isinstance(value, str):
            raise ValueError(f"{feature.name} is text; give a string")
    elif kind is FeatureType.BOOLEAN:
        if not isinstance(value, bool):
            raise ValueError(f"{feature.name} is true or false; give a boolean")
    else:
        typed_operand(feature, value)


def _parse_datetime(value: Scalar) -> datetime:
    if not isinstance(value, str):
        raise ValueError("give a date and time like 2025-01-31T09:00:00Z")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("give a date and time like 2025-01-31T09:00:00Z") from None
    return storable_time(parsed).astimezone(UTC)


def _parse_date(value: Scalar) -> date:
    if not isinstance(value, str):
        raise ValueError("give a date like 2025-01-31")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("give a date like 2025-01-31") from None


def _unknown_field(name: str, catalog: Catalog) -> str:
    close = difflib.get_close_matches(name, [feature.name for feature in catalog], n=1)
    return f"unknown field (did you mean `{close[0]}`?)" if close else "unknown field"


def _shape_problems(error: ValidationError) -> list[Problem]:
    details = error.errors(include_url=False)
    failed_locations = [detail["loc"] for detail in details]
    problems = []
    for detail in details:
        location = detail["loc"]
        # A list whose items failed is also reported "too short"; the items' own errors say more.
        if detail["type"] == "too_short" and any(
            len(other) > len(location) and other[: len(location)] == location for other in failed_locations
        ):
            continue
        path, attribute = _path_of(location)
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "too_short" and attribute in ("and", "or"):
            message = "a group needs at least one rule"
        elif detail["type"] == "extra_forbidden":
            message = f"unknown key `{attribute}`"
        elif detail["type"] == "literal_error":
            message = f"{attribute}: {detail['input']!r} is not allowed; {message[0].lower()}{message[1:]}"
        elif attribute:
            message = f"{attribute}: {message}"
        problems.append(Problem(path=path, field=_field_of(detail.get("input")), message=message))
    return problems


def _path_of(location: tuple[int | str, ...]) -> tuple[str, str | None]:
    """The node path and the failing attribute named by a pydantic error location."""
    items = list(location)
    parts: list[str] = []
    if items and items[0] in _TAGS:
        items.pop(0)
    while items:
        key = items.pop(0)
        if key in ("and", "or", "where") and items and isinstance(items[0], int):
            parts.append(f"{key}[{items.pop(0)}]")
        elif key == "not":
            parts.append("not")
        else:
            return ".".join(parts), ".".join(str(item) for item in [key, *items])
        if key != "where" and items and items[0] in _TAGS:
            items.pop(0)
    return ".".join(parts), None


def _field_of(node: Any) -> str | None:
    if isinstance(node, dict):
        for key in ("field", "event", "never", "property"):
            if isinstance(node.get(key), str):
                return str(node[key])
    return None
