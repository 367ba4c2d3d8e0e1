"""The SQL backend: a rule compiled to a SQLAlchemy Core expression, run by Postgres (or a warehouse).

It works over a features table holding a snapshot (one row per customer, columns named as in the
catalog; `features_table` declares one) and the events table of `engine.schema`. Values are bound
parameters and identifiers are catalog names, so no rule can inject SQL. Every condition is
two-valued (`COALESCE(..., FALSE)`), as the README's "Missing values (nulls)" describes.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Double,
    Engine,
    Float,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from engine.features.catalog import Catalog, FeatureType, catalog_for_schema
from engine.schema import events as events_table
from engine.segments.errors import CustomerNotFound, UnsupportedRule
from engine.segments.evaluation import CustomerFacts, SegmentEvaluator
from engine.segments.operands import (
    FieldTest,
    event_name,
    event_window,
    field_test,
    property_operands,
    reference_time,
    value_kind,
)
from engine.segments.operands import count_test as make_count_test
from engine.segments.rules import (
    And,
    Condition,
    EventRule,
    NeverPerformed,
    Not,
    Or,
    Performed,
    PropertyFilter,
    Rule,
    child_nodes,
    walk,
)
from engine.segments.validation import check_rule

BACKEND = "sql"

_SQL_TYPES: dict[FeatureType, TypeEngine[Any]] = {
    FeatureType.NUMBER: Double(),
    FeatureType.INTEGER: BigInteger(),
    FeatureType.STRING: Text(),
    FeatureType.CATEGORY: Text(),
    FeatureType.BOOLEAN: Boolean(),
    FeatureType.DATETIME: DateTime(timezone=True),
    FeatureType.DATE: Date(),
}


def features_table(name: str, catalog: Catalog, metadata: MetaData | None = None, *, temporary: bool = False) -> Table:
    """The Postgres table for a snapshot with these features, `customer_id` its primary key."""
    columns = [
        Column(feature.name, _SQL_TYPES[feature.type], primary_key=feature.name == "customer_id") for feature in catalog
    ]
    return Table(name, metadata or MetaData(), *columns, prefixes=["TEMPORARY"] if temporary else [])


def reflect_features_table(connectable: Engine | Connection, name: str) -> Table:
    """The existing features table `name`, read from the database."""
    return Table(name, MetaData(), autoload_with=connectable)


class SqlCompiler:
    """Compiles rules to boolean expressions over `features`, with event conditions over `events`."""

    def __init__(self, features: Table, events: Table, *, now: datetime, catalog: Catalog) -> None:
        self.features = features
        self.events = events
        self.now = reference_time(now)
        self.catalog = catalog

    def compile(self, node: Rule, path: str = "") -> ColumnElement[bool]:
        """An expression (never NULL) that is true for the customers the node matches."""
        children = [self.compile(child, child_path) for child_path, child in child_nodes(node, path)]
        if isinstance(node, And | Or):
            return (and_ if isinstance(node, And) else or_)(*children).self_group()
        if isinstance(node, Not):
            return ~children[0]
        if isinstance(node, Condition):
            return self._condition(node, path)
        if isinstance(node, Performed | NeverPerformed):
            return self._event_membership(node, path)
        raise UnsupportedRule(BACKEND, path, f"unknown node {type(node).__name__}")

    def event_count(self, node: EventRule, path: str, customer_id: int) -> ColumnElement[int]:
        """A scalar subquery: how many matching events one customer has."""
        query = select(func.count()).select_from(self.events).where(*self._event_terms(node, path))
        return query.where(self.events.c.customer_id == customer_id).scalar_subquery()

    def _condition(self, condition: Condition, path: str) -> ColumnElement[bool]:
        column = self.features.c.get(condition.field)
        if column is None:
            raise UnsupportedRule(BACKEND, path, f"the snapshot table has no column `{condition.field}`")
        test = field_test(condition, self.catalog[condition.field], self.now)
        if test.op == "is set":
            return column.is_not(None)
        if test.op == "is not set":
            return column.is_(None)
        naive = isinstance(column.type, DateTime) and not column.type.timezone
        return func.coalesce(_compare(column, test, naive), false())

    def _event_membership(self, node: EventRule, path: str) -> ColumnElement[bool]:
        test = make_count_test(node)
        customer = self.events.c.customer_id
        keep_outside = test.holds(0)
        having = test.complement() if keep_outside else test
        grouped = (
            select(customer)
            .where(*self._event_terms(node, path))
            .group_by(customer)
            .having(_count_comparison(func.count(), having.op, having.count))
        )
        member = self.features.c.customer_id
        return member.not_in(grouped) if keep_outside else member.in_(grouped)

    def _event_terms(self, node: EventRule, path: str) -> list[ColumnElement[bool]]:
        events = self.events
        window = event_window(node, self.now)
        terms = [
            events.c.customer_id.is_not(None),
            events.c.name == event_name(node),
            events.c.occurred_at <= window.until,
        ]
        if window.since is not None:
            terms.append(events.c.occurred_at >= window.since)
        return terms + [self._property_test(item) for item in node.where]

    def _property_test(self, item: PropertyFilter) -> ColumnElement[bool]:
        value = self.events.c.properties[item.property]
        json_type = func.jsonb_typeof(value)
        if item.op in ("is set", "is not set"):
            present = func.coalesce(json_type != "null", false())
            return present if item.op == "is set" else ~present
        text = self.events.c.properties[item.property].astext
        view = {
            "string": case((json_type == "string", text)),
            "number": case((json_type == "number", cast(text, Double))),
            "boolean": case((json_type == "boolean", text == "true")),
        }[value_kind(item.value)]  # type: ignore[index]
        operands = property_operands(item)
        operand = operands if item.op in ("in", "not in") else operands[0]
        return func.coalesce(_compare(view, FieldTest(item.op, operand), naive=False), false())


class SqlEvaluator(SegmentEvaluator):
    """Rules over a features table and the events table, evaluated by the database."""

    backend = BACKEND

    def __init__(
        self,
        connectable: Engine | Connection,
        features: Table,
        events: Table = events_table,
        *,
        now: datetime,
        catalog: Catalog | None = None,
    ) -> None:
        self.connectable = connectable
        self.features = features
        self.catalog = catalog or catalog_for_schema(
            {column.name: _polars_dtype(column.type) for column in features.columns}
        )
        self.compiler = SqlCompiler(features, events, now=now, catalog=self.catalog)

    def compile(self, rule: Rule) -> ColumnElement[bool]:
        """The rule as a boolean expression over the features table (rule checked first)."""
        check_rule(rule, self.catalog)
        return self.compiler.compile(rule)

    def _connection(self) -> AbstractContextManager[Connection]:
        if isinstance(self.connectable, Connection):
            return nullcontext(self.connectable)
        return self.connectable.connect()

    def _count(self, rule: Rule) -> int:
        query = select(func.count()).select_from(self.features).where(self.compiler.compile(rule))
        with self._connection() as connection:
            return int(connection.execute(query).scalar_one())

    def _member_ids(self, rule: Rule, limit: int | None) -> list[int]:
        member = self.features.c.customer_id
        query = select(member).where(self.compiler.compile(rule)).order_by(member).limit(limit)
        with self._connection() as connection:
            return list(connection.execute(query).scalars())

    def _clause_counts(self, rule: Rule) -> dict[str, int]:
        nodes = list(walk(rule))
        counts = [func.count().filter(self.compiler.compile(node, path)) for path, node in nodes]
        with self._connection() as connection:
            row = connection.execute(select(*counts).select_from(self.features)).one()
        return {path: int(value) for (path, _), value in zip(nodes, row, strict=True)}

    def _customer_facts(self, rule: Rule, customer_id: int) -> CustomerFacts:
        nodes = list(walk(rule))
        fields = sorted({node.field for _, node in nodes if isinstance(node, Condition)})
        event_nodes = [(path, node) for path, node in nodes if isinstance(node, Performed | NeverPerformed)]
        columns: list[ColumnElement[Any]] = [self.compiler.compile(node, path) for path, node in nodes]
        columns += [self.features.c[name] for name in fields]
        columns += [self.compiler.event_count(node, path, customer_id) for path, node in event_nodes]
        query = select(*columns).where(self.features.c.customer_id == customer_id)
        with self._connection() as connection:
            found = connection.execute(query).first()
        if found is None:
            raise CustomerNotFound(customer_id)
        row = list(found)
        matched = {path: bool(row.pop(0)) for path, _ in nodes}
        values = {name: row.pop(0) for name in fields}
        return CustomerFacts(matched, values, {path: int(row.pop(0)) for path, _ in event_nodes})


def _compare(column: ColumnElement[Any], test: FieldTest, naive: bool) -> ColumnElement[bool]:
    if isinstance(test.operand, tuple):
        operand: Any = tuple(_literal(item, naive) for item in test.operand)
    else:
        operand = _literal(test.operand, naive)
    match test.op:
        case "=":
            return column == operand
        case "!=":
            return column != operand
        case "<":
            return column < operand
        case "<=":
            return column <= operand
        case ">":
            return column > operand
        case ">=":
            return column >= operand
        case "between":
            return column.between(*operand)
        case "in":
            return column.in_(operand)
        case "not in":
            return column.not_in(operand)
        case "contains":
            return func.strpos(column, operand) > 0
        case "starts with":
            return func.starts_with(column, operand)
    raise UnsupportedRule(BACKEND, "", f"operator {test.op!r}")


def _count_comparison(count: ColumnElement[int], op: str, n: int) -> ColumnElement[bool]:
    return {
        ">=": count >= n,
        "<=": count <= n,
        "=": count == n,
        "!=": count != n,
        "<": count < n,
        ">": count > n,
    }[op]


def _literal(value: Any, naive: bool) -> ColumnElement[Any]:
    """A bound value typed by its own Python type, not the column's: `2.5` must not become a BIGINT 2."""
    if isinstance(value, datetime):
        return literal(value.replace(tzinfo=None) if naive else value, DateTime(timezone=not naive))
    kinds: dict[type, TypeEngine[Any]] = {bool: Boolean(), int: BigInteger(), float: Double(), str: Text()}
    return literal(value, kinds.get(type(value), Date()))


def _polars_dtype(sql_type: TypeEngine[Any]) -> pl.DataType:
    """The Polars dtype matching a column's SQL type, to build the catalog of a table's snapshot."""
    if isinstance(sql_type, Float | Numeric):
        return pl.Float64()
    if isinstance(sql_type, Integer):
        return pl.Int64()
    if isinstance(sql_type, Boolean):
        return pl.Boolean()
    if isinstance(sql_type, DateTime):
        return pl.Datetime("us", "UTC")
    if isinstance(sql_type, Date):
        return pl.Date()
    return pl.String()
