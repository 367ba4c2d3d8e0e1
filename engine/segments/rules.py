"""The segment rule language: a typed tree of groups and conditions, stored as JSON.

A rule is one of six node kinds, each told apart by its own key:

    {"and": [rule, ...]}                                   every child matches
    {"or": [rule, ...]}                                    at least one child matches
    {"not": rule}                                          the child does not match
    {"field": "total_spend", "op": ">", "value": 10000}    a condition on a catalogued feature
    {"event": "purchase", "where": [filter, ...],          performed an event a number of times,
     "op": "at least", "count": 3, "within_days": 30}      optionally only in the last N days
    {"never": "purchase", "where": [...], "within_days": 30}   has not performed the event (in that window)

A property filter of an event is `{"property": "category", "op": "=", "value": "shoes"}`.

This module knows only the shape of a rule (which keys, which operators, which value shapes); whether a
rule fits a catalog (the field exists, the operator suits its type, the value is of that type) is
`engine.segments.validation`'s job. A node's path names where it sits, e.g. `and[1].or[0]`; the root's
path is the empty string.

Rules are bounded so that no compiler (Polars, DuckDB, SQL) overflows or stalls and Postgres takes every
value: day counts at most `MAX_DAYS` (100 years), event counts at most `MAX_EVENT_COUNT`, whole numbers within
64 bits, numbers finite, no text with a NUL character, and at most `MAX_RULE_DEPTH` levels and
`MAX_RULE_TESTS` conditions and property filters in one rule.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    TypeAdapter,
    WithJsonSchema,
    model_validator,
)

from engine.postgres_safe import BIGINT_MAX, BIGINT_MIN, NO_NUL, NUL, NUL_MESSAGE
from engine.segments.errors import Problem

Scalar = StrictBool | StrictInt | StrictFloat | StrictStr
Value = Scalar | tuple[Scalar, ...]

FieldOperator = Literal[
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
    "within last days",
    "more than days ago",
]
PropertyOperator = Literal[
    "=", "!=", "<", "<=", ">", ">=", "in", "not in", "contains", "starts with", "is set", "is not set"
]
CountOperator = Literal["at least", "at most", "exactly"]

NO_VALUE_OPERATORS = frozenset({"is set", "is not set"})
LIST_OPERATORS = frozenset({"in", "not in"})
DAYS_OPERATORS = frozenset({"within last days", "more than days ago"})
TEXT_OPERATORS = frozenset({"contains", "starts with"})
ORDER_OPERATORS = frozenset({"<", "<=", ">", ">="})

PROPERTY_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_ \-]{0,63}$"
MAX_DAYS = 36_500  # 100 years: every day count a rule holds, so no compiler's date arithmetic overflows
MAX_EVENT_COUNT = 1_000_000_000  # fits every backend's count type, 32-bit ones included
MAX_RULE_DEPTH = 16  # levels of nesting, the root being the first: DuckDB's planning time doubles every 8
MAX_RULE_TESTS = 100  # conditions and event property filters in one rule


def _property_name(name: str) -> str:
    if re.fullmatch(PROPERTY_NAME_PATTERN, name) is None:
        raise ValueError("a property name is 1 to 64 letters, digits, `_`, `-` or spaces")
    return name


PropertyName = Annotated[
    str, AfterValidator(_property_name), WithJsonSchema({"type": "string", "pattern": PROPERTY_NAME_PATTERN})
]


EventName = Annotated[str, Field(min_length=1), NO_NUL]
WindowDays = Annotated[int, Field(ge=1, le=MAX_DAYS)]


class _Node(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    tag: ClassVar[str]  # the JSON key that tells this node kind apart


def _scalar_type(value: Scalar) -> type:
    return float if isinstance(value, int | float) and not isinstance(value, bool) else type(value)


def _check_value_shape(op: str, value: Value | None, what: str) -> None:
    """Refuse a value whose shape does not suit the operator (type against a catalog is checked later)."""
    if op in NO_VALUE_OPERATORS:
        if value is not None:
            raise ValueError(f"`{op}` takes no value")
        return
    if value is None:
        raise ValueError(f"`{op}` needs a value")
    values = value if isinstance(value, tuple) else (value,)
    if any(isinstance(v, float) and not math.isfinite(v) for v in values):
        raise ValueError("numbers must be finite")
    if any(isinstance(v, int) and not BIGINT_MIN <= v <= BIGINT_MAX for v in values):
        raise ValueError("whole numbers must fit in 64 bits (±9.2e18)")
    if any(isinstance(v, str) and NUL in v for v in values):
        raise ValueError(NUL_MESSAGE)
    if op == "between":
        if not isinstance(value, tuple) or len(value) != 2:
            raise ValueError("`between` needs a list of two values, [low, high]")
    elif op in LIST_OPERATORS:
        if not isinstance(value, tuple) or not value:
            raise ValueError(f"`{op}` needs a non-empty list of values")
        if len({_scalar_type(v) for v in value}) > 1:
            raise ValueError(f"the values of `{op}` must all be of one type")
    elif isinstance(value, tuple):
        raise ValueError(f"`{op}` takes one value, not a list")
    elif op in DAYS_OPERATORS:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
            raise ValueError(f"`{op}` needs a whole number of days from 0 to {MAX_DAYS:,} (100 years)")
    elif op in TEXT_OPERATORS and not isinstance(value, str):
        raise ValueError(f"`{op}` needs a text value")
    elif op in ORDER_OPERATORS and what == "property" and _scalar_type(value) is not float:
        raise ValueError(f"`{op}` on an event property needs a number")


class And(_Node):
    """Matches customers who match every child."""

    tag: ClassVar[str] = "and"
    children: tuple[Rule, ...] = Field(alias="and", min_length=1)


class Or(_Node):
    """Matches customers who match at least one child."""

    tag: ClassVar[str] = "or"
    children: tuple[Rule, ...] = Field(alias="or", min_length=1)


class Not(_Node):
    """Matches exactly the customers the child does not match."""

    tag: ClassVar[str] = "not"
    child: Rule = Field(alias="not")


class Condition(_Node):
    """Matches customers whose feature `field` satisfies `op` against `value`."""

    tag: ClassVar[str] = "field"
    field: str = Field(min_length=1)
    op: FieldOperator
    value: Value | None = None

    @model_validator(mode="after")
    def _value_fits_operator(self) -> Condition:
        _check_value_shape(self.op, self.value, "field")
        return self


class PropertyFilter(_Node):
    """Keeps only the events whose property `property` satisfies `op` against `value`."""

    property: PropertyName
    op: PropertyOperator
    value: Value | None = None

    @model_validator(mode="after")
    def _value_fits_operator(self) -> PropertyFilter:
        _check_value_shape(self.op, self.value, "property")
        return self


class Performed(_Node):
    """Matches customers who performed `event` (passing every filter) `op` `count` times, in the window."""

    tag: ClassVar[str] = "event"
    event: EventName
    where: tuple[PropertyFilter, ...] = ()
    op: CountOperator = "at least"
    count: int = Field(default=1, ge=0, le=MAX_EVENT_COUNT)
    within_days: WindowDays | None = None


class NeverPerformed(_Node):
    """Matches customers who have no `event` passing every filter (in the last `within_days` days, if set)."""

    tag: ClassVar[str] = "never"
    never: EventName
    where: tuple[PropertyFilter, ...] = ()
    within_days: WindowDays | None = None


NODE_TYPES: tuple[type[_Node], ...] = (And, Or, Not, Condition, Performed, NeverPerformed)
_TAGS = tuple(node_type.tag for node_type in NODE_TYPES)


def _node_tag(data: Any) -> str | None:
    if isinstance(data, dict):
        return next((tag for tag in _TAGS if tag in data), None)
    return getattr(type(data), "tag", None)


Rule = Annotated[
    Annotated[And, Tag("and")]
    | Annotated[Or, Tag("or")]
    | Annotated[Not, Tag("not")]
    | Annotated[Condition, Tag("field")]
    | Annotated[Performed, Tag("event")]
    | Annotated[NeverPerformed, Tag("never")],
    Discriminator(
        _node_tag,
        custom_error_type="rule_kind",
        custom_error_message='a rule is an object with one of the keys "and", "or", "not", "field", "event" or "never"',
    ),
]
EventRule = Performed | NeverPerformed

for _model in (And, Or, Not):
    _model.model_rebuild()

RULE_ADAPTER: TypeAdapter[Rule] = TypeAdapter(Rule)


def child_nodes(node: Rule, path: str = "") -> list[tuple[str, Rule]]:
    """The direct children of a node, each with its path."""
    prefix = f"{path}." if path else ""
    if isinstance(node, And | Or):
        return [(f"{prefix}{node.tag}[{index}]", child) for index, child in enumerate(node.children)]
    if isinstance(node, Not):
        return [(f"{prefix}not", node.child)]
    return []


def walk(rule: Rule, path: str = "") -> Iterator[tuple[str, Rule]]:
    """Every node of the tree with its path, parents before children."""
    yield path, rule
    for child_path, child in child_nodes(rule, path):
        yield from walk(child, child_path)


def size_problem(rule: Rule) -> Problem | None:
    """Why a rule is too large for every compiler to plan it quickly (nested too deep, too many tests), if it is."""
    tests = 0
    pending: list[tuple[str, Rule, int]] = [("", rule, 1)]
    while pending:
        path, node, level = pending.pop()
        if level > MAX_RULE_DEPTH:
            return Problem(path=path, field=None, message=f"a rule nests at most {MAX_RULE_DEPTH} levels deep")
        if isinstance(node, Condition):
            tests += 1
        elif isinstance(node, Performed | NeverPerformed):
            tests += 1 + len(node.where)
        pending.extend((child_path, child, level + 1) for child_path, child in child_nodes(node, path))
    if tests > MAX_RULE_TESTS:
        message = f"a rule holds at most {MAX_RULE_TESTS} conditions and property filters; this one has {tests}"
        return Problem(path="", field=None, message=message)
    return None


def rule_json_schema() -> dict[str, Any]:
    """The JSON Schema of a rule: for the API, the dashboard's builder and constrained LLM output."""
    schema = RULE_ADAPTER.json_schema()
    return _any_of(schema)


def _any_of(schema: Any) -> Any:
    """Turn pydantic's `oneOf` into the equivalent `anyOf`, which more JSON Schema consumers accept."""
    if isinstance(schema, dict):
        return {("anyOf" if key == "oneOf" else key): _any_of(value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_any_of(item) for item in schema]
    return schema
