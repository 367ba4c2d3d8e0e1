"""The out-of-core backend: a rule compiled to a DuckDB SQL expression over the snapshot's Parquet file(s).

Every user value travels as a bound parameter (`?`), and identifiers come only from the catalog, so no
rule can inject SQL. Every condition is two-valued (`COALESCE(..., FALSE)`), as the README's "Missing
values (nulls)" describes; an event condition is an `IN` / `NOT IN` over a grouped subquery on the events
relation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from engine.features.catalog import Catalog, catalog_for_schema
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

BACKEND = "duckdb"
_JSON_NUMBER_TYPES = ("BIGINT", "UBIGINT", "HUGEINT", "UHUGEINT", "DOUBLE")


@dataclass(frozen=True)
class Fragment:
    """A piece of DuckDB SQL and the values of its `?` placeholders, in order."""

    sql: str
    params: tuple[Any, ...] = ()

    @staticmethod
    def join(separator: str, parts: Iterable[Fragment]) -> Fragment:
        items = list(parts)
        return Fragment(separator.join(part.sql for part in items), tuple(p for part in items for p in part.params))

    def wrap(self, template: str) -> Fragment:
        """This fragment put in place of `{}` in a template that adds no parameters."""
        return Fragment(template.format(self.sql), self.params)


def quote(identifier: str) -> str:
    """An identifier quoted for DuckDB (and Postgres)."""
    return '"' + identifier.replace('"', '""') + '"'


class DuckDbCompiler:
    """Compiles rules to SQL over a features relation whose columns have `column_types` (DuckDB names)."""

    def __init__(
        self,
        column_types: dict[str, str],
        *,
        now: datetime,
        catalog: Catalog,
        events: str | None = None,
        properties_type: str = "VARCHAR",
    ) -> None:
        self.column_types = column_types
        self.now = reference_time(now)
        self.catalog = catalog
        self.events = events
        self.properties = "e.properties" if properties_type in ("VARCHAR", "JSON") else "to_json(e.properties)"

    def compile(self, node: Rule, path: str = "") -> Fragment:
        """A boolean SQL expression (never NULL) over the features relation, true where the node matches."""
        children = [self.compile(child, child_path) for child_path, child in child_nodes(node, path)]
        if isinstance(node, And | Or):
            return Fragment.join(f" {node.tag.upper()} ", children).wrap("({})")
        if isinstance(node, Not):
            return children[0].wrap("(NOT {})")
        if isinstance(node, Condition):
            return self._condition(node, path)
        if isinstance(node, Performed | NeverPerformed):
            return self._event_membership(node, path)
        raise UnsupportedRule(BACKEND, path, f"unknown node {type(node).__name__}")

    def event_count(self, node: EventRule, path: str, customer_id: int) -> Fragment:
        """A scalar subquery: how many matching events one customer has."""
        matching = self._matching_events(node, path)
        return Fragment(f"(SELECT count(*) FROM {matching.sql} AND e.customer_id = ?)", (*matching.params, customer_id))

    def _condition(self, condition: Condition, path: str) -> Fragment:
        column_type = self.column_types.get(condition.field)
        if column_type is None:
            raise UnsupportedRule(BACKEND, path, f"the snapshot has no column `{condition.field}`")
        test = field_test(condition, self.catalog[condition.field], self.now)
        column = quote(condition.field)
        if test.op == "is set":
            return Fragment(f"({column} IS NOT NULL)")
        if test.op == "is not set":
            return Fragment(f"({column} IS NULL)")
        naive = column_type == "TIMESTAMP"
        return _compare(Fragment(column), test, naive).wrap("COALESCE({}, FALSE)")

    def _event_membership(self, node: EventRule, path: str) -> Fragment:
        test = make_count_test(node)
        matching = self._matching_events(node, path)
        keep, having = ("NOT IN", test.complement()) if test.holds(0) else ("IN", test)
        return Fragment(
            f'("customer_id" {keep} (SELECT e.customer_id FROM {matching.sql} '
            f"GROUP BY e.customer_id HAVING count(*) {having.op} ?))",
            (*matching.params, having.count),
        )

    def _matching_events(self, node: EventRule, path: str) -> Fragment:
        """`<events> AS e WHERE ...` selecting the node's events, ready for more `AND` terms."""
        if self.events is None:
            raise UnsupportedRule(BACKEND, path, "event conditions need an events relation")
        window = event_window(node, self.now)
        terms = [
            Fragment("e.customer_id IS NOT NULL"),
            Fragment("e.name = ?", (event_name(node),)),
            Fragment("e.occurred_at <= ?", (window.until,)),
        ]
        if window.since is not None:
            terms.append(Fragment("e.occurred_at >= ?", (window.since,)))
        terms += [self._property_test(item) for item in node.where]
        return Fragment.join(" AND ", terms).wrap(f"{quote(self.events)} AS e WHERE {{}}")

    def _property_test(self, item: PropertyFilter) -> Fragment:
        json_path = f'$."{item.property}"'
        kind_of = Fragment(f"json_type({self.properties}, ?)", (json_path,))
        value_of = Fragment(f"json_extract_string({self.properties}, ?)", (json_path,))
        if item.op in ("is set", "is not set"):
            present = kind_of.wrap("COALESCE({} <> 'NULL', FALSE)")
            return present if item.op == "is set" else present.wrap("(NOT {})")
        kind = value_kind(item.value)
        if kind == "number":
            view = Fragment(
                f"CASE WHEN {kind_of.sql} IN {_JSON_NUMBER_TYPES} THEN CAST({value_of.sql} AS DOUBLE) END",
                (*kind_of.params, *value_of.params),
            )
        else:
            json_type, extract = ("VARCHAR", "{}") if kind == "string" else ("BOOLEAN", "{} = 'true'")
            view = Fragment(
                f"CASE WHEN {kind_of.sql} = '{json_type}' THEN {extract.format(value_of.sql)} END",
                (*kind_of.params, *value_of.params),
            )
        operands = property_operands(item)
        operand = operands if item.op in ("in", "not in") else operands[0]
        return _compare(view, FieldTest(item.op, operand), naive=False).wrap("COALESCE({}, FALSE)")


class DuckDbEvaluator(SegmentEvaluator):
    """Rules over a features relation (and an events relation) in a DuckDB connection."""

    backend = BACKEND

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        *,
        features: str = "features",
        events: str | None = "events",
        now: datetime,
        catalog: Catalog | None = None,
    ) -> None:
        self.connection = connection
        self.connection.execute("SET TimeZone = 'UTC'")
        self.features = quote(features)
        columns = connection.sql(f"SELECT * FROM {self.features} LIMIT 0")
        self.catalog = catalog or catalog_for_schema(columns.pl().schema)
        properties_type = "VARCHAR"
        if events is not None:
            event_columns = connection.sql(f"SELECT * FROM {quote(events)} LIMIT 0")
            properties_type = str(dict(zip(event_columns.columns, event_columns.types, strict=True))["properties"])
        self.compiler = DuckDbCompiler(
            {name: str(kind) for name, kind in zip(columns.columns, columns.types, strict=True)},
            now=now,
            catalog=self.catalog,
            events=events,
            properties_type=properties_type,
        )

    @classmethod
    def over_parquet(
        cls,
        features: str | Sequence[str],
        events: pl.DataFrame | str | Sequence[str] | None = None,
        *,
        now: datetime,
        catalog: Catalog | None = None,
    ) -> DuckDbEvaluator:
        """An evaluator on a fresh in-memory connection over snapshot Parquet file(s) and events."""
        connection = duckdb.connect()
        paths = [features] if isinstance(features, str) else list(features)
        connection.read_parquet(paths).create_view("features")
        if isinstance(events, pl.DataFrame):
            connection.register("events", events)
        elif events is not None:
            connection.read_parquet([events] if isinstance(events, str) else list(events)).create_view("events")
        if catalog is None:
            catalog = catalog_for_schema(pl.read_parquet_schema(paths[0]))
        return cls(connection, events="events" if events is not None else None, now=now, catalog=catalog)

    def compile(self, rule: Rule) -> Fragment:
        """The rule as a boolean SQL expression over the features relation (rule checked first)."""
        check_rule(rule, self.catalog)
        return self.compiler.compile(rule)

    def _fetch(self, fragment: Fragment) -> list[tuple[Any, ...]]:
        return self.connection.execute(fragment.sql, list(fragment.params)).fetchall()

    def _count(self, rule: Rule) -> int:
        where = self.compiler.compile(rule)
        return int(self._fetch(where.wrap(f"SELECT count(*) FROM {self.features} WHERE {{}}"))[0][0])

    def _member_ids(self, rule: Rule, limit: int | None) -> list[int]:
        query = self.compiler.compile(rule).wrap(
            f'SELECT "customer_id" FROM {self.features} WHERE {{}} ORDER BY "customer_id"'
        )
        if limit is not None:
            query = Fragment(f"{query.sql} LIMIT ?", (*query.params, limit))
        return [row[0] for row in self._fetch(query)]

    def _clause_counts(self, rule: Rule) -> dict[str, int]:
        paths, nodes = zip(*walk(rule), strict=True)
        counts = Fragment.join(
            ", ",
            (
                self.compiler.compile(node, path).wrap("count(*) FILTER (WHERE {})")
                for path, node in zip(paths, nodes, strict=True)
            ),
        )
        row = self._fetch(counts.wrap(f"SELECT {{}} FROM {self.features}"))[0]
        return dict(zip(paths, (int(value) for value in row), strict=True))

    def _customer_facts(self, rule: Rule, customer_id: int) -> CustomerFacts:
        nodes = list(walk(rule))
        fields = sorted({node.field for _, node in nodes if isinstance(node, Condition)})
        event_nodes = [(path, node) for path, node in nodes if isinstance(node, Performed | NeverPerformed)]
        columns = [self.compiler.compile(node, path) for path, node in nodes]
        columns += [Fragment(quote(name)) for name in fields]
        columns += [self.compiler.event_count(node, path, customer_id) for path, node in event_nodes]
        query = Fragment.join(", ", columns).wrap(f'SELECT {{}} FROM {self.features} WHERE "customer_id" = ?')
        rows = self._fetch(Fragment(query.sql, (*query.params, customer_id)))
        if not rows:
            raise CustomerNotFound(customer_id)
        row = list(rows[0])
        matched = {path: bool(row.pop(0)) for path, _ in nodes}
        values = {name: row.pop(0) for name in fields}
        return CustomerFacts(matched, values, {path: int(row.pop(0)) for path, _ in event_nodes})


def _compare(column: Fragment, test: FieldTest, naive: bool) -> Fragment:
    """`column <op> ?` with the operand(s) bound after the column's own parameters."""
    operand = test.operand
    values = list(operand) if isinstance(operand, tuple) else [operand]
    if naive:
        values = [value.replace(tzinfo=None) if isinstance(value, datetime) else value for value in values]
    placeholders = ", ".join("?" for _ in values)
    template = {
        "=": "({} = ?)",
        "!=": "({} <> ?)",
        "<": "({} < ?)",
        "<=": "({} <= ?)",
        ">": "({} > ?)",
        ">=": "({} >= ?)",
        "between": "({} BETWEEN ? AND ?)",
        "in": f"({{}} IN ({placeholders}))",
        "not in": f"({{}} NOT IN ({placeholders}))",
        "contains": "contains({}, ?)",
        "starts with": "starts_with({}, ?)",
    }.get(test.op)
    if template is None:
        raise UnsupportedRule(BACKEND, "", f"operator {test.op!r}")
    return Fragment(template.format(column.sql), (*column.params, *values))
