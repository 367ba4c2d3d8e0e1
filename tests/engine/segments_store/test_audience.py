"""Previews, pages and exports tell the same audience as the evaluator, on random rules and data."""

from __future__ import annotations

import io

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.segments import parse_rule
from engine.segments.audience import csv_chunks, member_page, members_frame, parquet_chunks, preview
from engine.segments.polars_backend import PolarsEvaluator
from engine.segments.rules import Rule
from tests.engine.segments.conftest import NOW, snapshot_catalog
from tests.engine.segments.test_backends_agree_on_random_rules import events, features, rules


@settings(max_examples=150, deadline=None)
@given(customers=features(), event_rows=events(), rule=rules(), sample_size=st.integers(0, 4))
def test_a_preview_counts_every_node_and_samples_the_first_members_as_the_evaluator_does(
    customers: pl.DataFrame, event_rows: pl.DataFrame, rule: Rule, sample_size: int
) -> None:
    evaluator = PolarsEvaluator(customers, event_rows, now=NOW, catalog=snapshot_catalog(customers))

    shown = preview(evaluator, rule, sample_size)

    assert shown.clause_counts == evaluator.clause_counts(rule)
    assert shown.size == evaluator.count(rule)
    assert [row["customer_id"] for row in shown.sample] == evaluator.member_ids(rule, sample_size)


@settings(max_examples=60, deadline=None)
@given(customers=features(), event_rows=events(), rule=rules(), limit=st.integers(1, 4))
def test_pages_walk_every_member_once_in_id_order(
    customers: pl.DataFrame, event_rows: pl.DataFrame, rule: Rule, limit: int
) -> None:
    evaluator = PolarsEvaluator(customers, event_rows, now=NOW, catalog=snapshot_catalog(customers))
    walked, cursor = [], None
    while True:
        page = member_page(evaluator, rule, after=cursor, limit=limit)
        walked += [row["customer_id"] for row in page.members]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert walked == evaluator.member_ids(rule)


def test_exports_in_pieces_read_back_as_one_file() -> None:
    customers = pl.DataFrame({"customer_id": range(1, 120_001), "total_spend": [float(n % 7) for n in range(120_000)]})
    members = members_frame(
        PolarsEvaluator(customers, now=NOW), parse_rule({"field": "total_spend", "op": ">", "value": 3})
    )

    csv_pieces, parquet_pieces = list(csv_chunks(members)), list(parquet_chunks(members))

    assert members.height == 51_428
    assert len(csv_pieces) == 2
    assert pl.read_csv(io.BytesIO(b"".join(csv_pieces))).equals(members)
    assert len([piece for piece in parquet_pieces if piece]) > 1
    assert pl.read_parquet(io.BytesIO(b"".join(parquet_pieces))).equals(members)
