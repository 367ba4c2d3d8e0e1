"""Previews and explanations: per-clause counts, "why is this customer in", and refusals, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import polars as pl
import pytest

from engine.segments.duckdb_backend import DuckDbEvaluator
from engine.segments.errors import CustomerNotFound, RuleError, UnsupportedRule
from engine.segments.polars_backend import PolarsEvaluator, compile_polars
from engine.segments.rules import Condition
from engine.segments.validation import parse_rule
from tests.engine.segments.conftest import NOW, MakeEvaluator
from tests.engine.segments.test_backends_agree import EVENTS, FEATURES

LOYAL_PARISIANS_WITHOUT_GMAIL = parse_rule(
    {
        "and": [
            {"field": "city", "op": "in", "value": ["Paris", "Lyon"]},
            {
                "not": {
                    "or": [
                        {"field": "email", "op": "contains", "value": "gmail"},
                        {"event": "purchase", "within_days": 30},
                    ]
                }
            },
            {"field": "last_order_at", "op": "more than days ago", "value": 60},
        ]
    }
)


def test_clause_counts_show_where_the_audience_goes(backend: MakeEvaluator) -> None:
    counts = backend(FEATURES, EVENTS).clause_counts(LOYAL_PARISIANS_WITHOUT_GMAIL)
    assert counts == {
        "": 1,
        "and[0]": 3,
        "and[1]": 3,
        "and[1].not": 3,
        "and[1].not.or[0]": 2,
        "and[1].not.or[1]": 2,
        "and[2]": 2,
    }


def test_member_ids_are_ascending_and_limited(backend: MakeEvaluator) -> None:
    rule = parse_rule({"field": "email", "op": "is set"})
    assert backend(FEATURES, EVENTS).member_ids(rule, limit=3) == [1, 2, 4]


def test_explain_gives_each_nodes_value_and_the_deciding_facts(backend: MakeEvaluator) -> None:
    explanation = backend(FEATURES, EVENTS).explain(LOYAL_PARISIANS_WITHOUT_GMAIL, 4)

    assert explanation.matched
    city, excluded, last_order = explanation.children
    assert (city.path, city.matched, city.field, city.value) == ("and[0]", True, "city", "Paris")
    assert (excluded.matched, excluded.children[0].matched) == (True, False)
    gmail, recent_purchase = excluded.children[0].children
    assert (gmail.path, gmail.matched, gmail.value) == ("and[1].not.or[0]", False, "cy@GMAIL.com")
    assert (recent_purchase.matched, recent_purchase.event_count) == (False, 0)
    assert last_order.value == datetime(2025, 3, 2, 12, 0, tzinfo=UTC)
    assert recent_purchase.sentence == "customers who performed purchase at least once in the last 30 days"


def test_explain_counts_only_matching_events(backend: MakeEvaluator) -> None:
    rule = parse_rule({"event": "purchase", "where": [{"property": "category", "op": "=", "value": "shoes"}]})
    explanation = backend(FEATURES, EVENTS).explain(rule, 2)
    assert (explanation.matched, explanation.event_count) == (True, 2)


def test_explaining_an_unknown_customer_is_refused(backend: MakeEvaluator) -> None:
    with pytest.raises(CustomerNotFound):
        backend(FEATURES, EVENTS).explain(LOYAL_PARISIANS_WITHOUT_GMAIL, 99)


def test_a_rule_outside_the_catalog_is_refused_before_evaluation(backend: MakeEvaluator) -> None:
    with pytest.raises(RuleError, match="and\\[1\\]: totl_spend: unknown field"):
        backend(FEATURES, EVENTS).count(
            parse_rule({"and": [{"field": "city", "op": "is set"}, {"field": "totl_spend", "op": ">", "value": 1}]})
        )


def test_event_conditions_without_events_are_unsupported_not_empty() -> None:
    rule = parse_rule({"and": [{"field": "city", "op": "is set"}, {"never": "purchase"}]})
    with pytest.raises(UnsupportedRule, match="and\\[1\\]: event conditions need an events frame"):
        PolarsEvaluator(FEATURES, now=NOW).count(rule)
    connection = duckdb.connect()
    connection.register("features", FEATURES)
    with pytest.raises(UnsupportedRule, match="and\\[1\\]: event conditions need an events relation"):
        DuckDbEvaluator(connection, events=None, now=NOW).count(rule)


def test_a_catalogued_field_missing_from_the_snapshot_is_unsupported() -> None:
    with pytest.raises(UnsupportedRule, match="no column `sms_consent`"):
        PolarsEvaluator(FEATURES, EVENTS, now=NOW).count(Condition(field="sms_consent", op="=", value=True))


def test_properties_of_an_unreadable_type_are_unsupported() -> None:
    events = EVENTS.with_columns(pl.col("properties").str.split(","))
    rule = parse_rule({"event": "purchase", "where": [{"property": "price", "op": ">", "value": 1}]})
    with pytest.raises(UnsupportedRule, match="event properties of type"):
        PolarsEvaluator(FEATURES, events, now=NOW).count(rule)


def test_struct_properties_read_like_json_text() -> None:
    typed = EVENTS.filter(~pl.col("properties").str.contains('"120"', literal=True))
    decoded = typed.with_columns(
        pl.col("properties").str.json_decode(
            pl.Struct({"category": pl.String, "price": pl.Float64, "gift": pl.Boolean})
        )
    )
    as_text = decoded.with_columns(pl.col("properties").struct.json_encode())
    for where in (
        {"property": "price", "op": ">", "value": 100},
        {"property": "category", "op": "=", "value": "shoes"},
        {"property": "gift", "op": "is set"},
        {"property": "absent", "op": "is not set"},
    ):
        rule = parse_rule({"event": "purchase", "where": [where]})
        structs = PolarsEvaluator(FEATURES, decoded, now=NOW).member_ids(rule)
        assert structs == PolarsEvaluator(FEATURES, as_text, now=NOW).member_ids(rule), where


def test_naive_timestamps_are_read_as_utc() -> None:
    naive = FEATURES.with_columns(pl.col("last_order_at").dt.replace_time_zone(None))
    rule = parse_rule({"field": "last_order_at", "op": "within last days", "value": 30})
    assert PolarsEvaluator(naive, EVENTS, now=NOW).member_ids(rule) == [2, 6]
    connection = duckdb.connect()
    connection.register("features", naive)
    connection.register("events", EVENTS)
    assert DuckDbEvaluator(connection, now=NOW).member_ids(rule) == [2, 6]


def test_compiled_expression_filters_a_frame_directly() -> None:
    expression = compile_polars(
        parse_rule({"field": "total_spend", "op": ">", "value": 10000}), FEATURES.schema, now=NOW
    )
    assert FEATURES.filter(expression)["customer_id"].to_list() == [1, 2]
