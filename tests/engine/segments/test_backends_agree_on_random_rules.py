"""Random rules over random customers and events, nulls included: all three backends count the same.

Hypothesis draws small datasets from value pools that make matches (and boundaries: exactly 30 days
ago, exactly 10 spent) likely, and rules of any shape over them. Every node's count must agree, not only
the root's, so a disagreement points at the node that causes it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine

from engine.features.catalog import FeatureType
from engine.segments.duckdb_backend import DuckDbEvaluator
from engine.segments.polars_backend import PolarsEvaluator
from engine.segments.rules import And, Condition, NeverPerformed, Not, Or, Performed, PropertyFilter, Rule
from engine.segments.validation import OPERATORS_BY_TYPE
from tests.engine.segments.conftest import NOW, postgres_evaluator, snapshot_catalog, temporary_events_table

DAY_OFFSETS = [-2.0, 0.0, 1.0, 29.5, 30.0, 31.0, 90.0, 365.0]
POOLS: dict[str, tuple[FeatureType, list[Any]]] = {
    "total_spend": (FeatureType.NUMBER, [0.0, 5.0, 10.0, 10.5, 100.0, 2500.25]),
    "order_count": (FeatureType.INTEGER, [0, 1, 2, 3, 10]),
    "city": (FeatureType.CATEGORY, ["Paris", "Lyon", "Oslo"]),
    "email": (FeatureType.STRING, ["a@gmail.com", "b@example.com", "gmail@x.org", ""]),
    "email_consent": (FeatureType.BOOLEAN, [True, False]),
    "last_order_at": (FeatureType.DATETIME, [NOW - timedelta(days=days) for days in DAY_OFFSETS]),
    "trait_birthday": (FeatureType.DATE, [date(1990, 1, 1), date(2025, 5, 2), NOW.date(), date(2025, 6, 2)]),
}
SCHEMA = pl.Schema(
    {
        "customer_id": pl.Int64(),
        "total_spend": pl.Float64(),
        "order_count": pl.Int64(),
        "city": pl.Enum(["Lyon", "Oslo", "Paris"]),
        "email": pl.String(),
        "email_consent": pl.Boolean(),
        "last_order_at": pl.Datetime("us", "UTC"),
        "trait_birthday": pl.Date(),
    }
)
EVENT_SCHEMA = pl.Schema(
    {
        "customer_id": pl.Int64(),
        "name": pl.String(),
        "occurred_at": pl.Datetime("us", "UTC"),
        "properties": pl.String(),
    }
)
PROPERTY_VALUES: dict[str, list[Any]] = {
    "string": ["shoes", "bags", "120"],
    "number": [5, 120, 120.5, -1],
    "boolean": [True, False],
}
TEXT_FRAGMENTS = ["a", "gmail", "Pa", "s", "", "@"]


@st.composite
def features(draw: st.DrawFn) -> pl.DataFrame:
    size = draw(st.integers(0, 10))
    columns: dict[str, list[Any]] = {"customer_id": list(range(1, size + 1))}
    for name, (_, pool) in POOLS.items():
        columns[name] = draw(st.lists(st.sampled_from([None, *pool]), min_size=size, max_size=size))
    return pl.DataFrame(columns, schema=SCHEMA)


@st.composite
def events(draw: st.DrawFn) -> pl.DataFrame:
    value = st.none() | st.sampled_from([v for pool in PROPERTY_VALUES.values() for v in pool])
    properties = st.dictionaries(st.sampled_from(["category", "price", "gift"]), value, max_size=3)
    rows = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "customer_id": st.none() | st.integers(1, 11),
                    "name": st.sampled_from(["purchase", "login"]),
                    "occurred_at": st.sampled_from(DAY_OFFSETS).map(lambda days: NOW - timedelta(days=days)),
                    "properties": properties.map(json.dumps),
                }
            ),
            max_size=15,
        )
    )
    return pl.DataFrame(rows, schema=EVENT_SCHEMA)


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    field = draw(st.sampled_from(sorted(POOLS)))
    kind, pool = POOLS[field]
    op = draw(st.sampled_from(sorted(OPERATORS_BY_TYPE[kind])))
    values = [_json_value(value) for value in pool]
    if kind in (FeatureType.NUMBER, FeatureType.INTEGER):
        values += [7, 2.5]
    if kind is FeatureType.CATEGORY:
        values.append("Atlantis")
    if op in ("is set", "is not set"):
        return Condition(field=field, op=op)
    if op in ("within last days", "more than days ago"):
        return Condition(field=field, op=op, value=draw(st.sampled_from([0, 1, 30, 90, 400])))
    if op in ("contains", "starts with"):
        return Condition(field=field, op=op, value=draw(st.sampled_from(TEXT_FRAGMENTS)))
    if op == "between":
        low, high = sorted(draw(st.lists(st.sampled_from(values), min_size=2, max_size=2)))
        return Condition(field=field, op=op, value=(low, high))
    if op in ("in", "not in"):
        return Condition(field=field, op=op, value=tuple(draw(st.lists(st.sampled_from(values), min_size=1))))
    return Condition(field=field, op=op, value=draw(st.sampled_from(values)))


@st.composite
def property_filters(draw: st.DrawFn) -> PropertyFilter:
    name = draw(st.sampled_from(["category", "price", "gift", "absent"]))
    op = draw(
        st.sampled_from(
            ["=", "!=", "<", "<=", ">", ">=", "in", "not in", "contains", "starts with", "is set", "is not set"]
        )
    )
    if op in ("is set", "is not set"):
        return PropertyFilter(property=name, op=op)
    if op in ("contains", "starts with"):
        return PropertyFilter(property=name, op=op, value=draw(st.sampled_from(["s", "sh", "", "12"])))
    if op in ("<", "<=", ">", ">="):
        return PropertyFilter(property=name, op=op, value=draw(st.sampled_from(PROPERTY_VALUES["number"])))
    pool = PROPERTY_VALUES[draw(st.sampled_from(sorted(PROPERTY_VALUES)))]
    if op in ("in", "not in"):
        return PropertyFilter(property=name, op=op, value=tuple(draw(st.lists(st.sampled_from(pool), min_size=1))))
    return PropertyFilter(property=name, op=op, value=draw(st.sampled_from(pool)))


def event_rules() -> st.SearchStrategy[Rule]:
    filters = st.lists(property_filters(), max_size=2).map(tuple)
    window = st.none() | st.sampled_from([1, 30, 31, 400])
    event = st.sampled_from(["purchase", "login"])
    performed = st.builds(
        Performed,
        event=event,
        where=filters,
        op=st.sampled_from(["at least", "at most", "exactly"]),
        count=st.integers(0, 3),
        within_days=window,
    )
    return performed | st.builds(NeverPerformed, never=event, where=filters, within_days=window)


def rules() -> st.SearchStrategy[Rule]:
    def groups(children: st.SearchStrategy[Rule]) -> st.SearchStrategy[Rule]:
        some = st.lists(children, min_size=1, max_size=3).map(tuple)
        return (
            some.map(lambda c: And(children=c))
            | some.map(lambda c: Or(children=c))
            | children.map(lambda c: Not(child=c))
        )

    return st.recursive(conditions() | event_rules(), groups, max_leaves=8)


@pytest.fixture
def connections(database: Engine) -> Iterator[tuple[duckdb.DuckDBPyConnection, Connection]]:
    """One DuckDB and one Postgres connection for all the examples (each example rolls back its tables)."""
    with duckdb.connect() as in_process, database.connect() as in_postgres:
        yield in_process, in_postgres


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(customers=features(), event_rows=events(), drawn_rules=st.lists(rules(), min_size=1, max_size=3))
def test_all_backends_count_every_node_alike(
    connections: tuple[duckdb.DuckDBPyConnection, Connection],
    customers: pl.DataFrame,
    event_rows: pl.DataFrame,
    drawn_rules: list[Rule],
) -> None:
    duckdb_connection, sql_connection = connections
    catalog = snapshot_catalog(customers)
    in_memory = PolarsEvaluator(customers, event_rows, now=NOW, catalog=catalog)
    duckdb_connection.register("features", customers)
    duckdb_connection.register("events", event_rows)
    out_of_core = DuckDbEvaluator(duckdb_connection, now=NOW, catalog=catalog)
    with sql_connection.begin() as transaction:
        in_postgres = postgres_evaluator(sql_connection, customers, event_rows, temporary_events_table())
        for rule in drawn_rules:
            expected = in_memory.clause_counts(rule)
            assert out_of_core.clause_counts(rule) == expected, rule
            assert in_postgres.clause_counts(rule) == expected, rule
            members = in_memory.member_ids(rule)
            assert out_of_core.member_ids(rule) == members
            assert in_postgres.member_ids(rule) == members
        transaction.rollback()
