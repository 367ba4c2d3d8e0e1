"""Trait keys become safe, distinct column names; each column's type is the one all its values agree on."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from engine.features.traits import TRAIT_LIMIT, TraitKey, trait_column, trait_keys, typed_trait


def typed(values: list[str | None], *json_types: str) -> pl.Series:
    return typed_trait(pl.Series(values, dtype=pl.String), TraitKey("k", "trait_k", frozenset(json_types), 1))


def test_column_names_are_snake_case_ascii_within_the_postgres_limit() -> None:
    assert trait_column("loyaltyTier") == "trait_loyalty_tier"
    assert trait_column("Favourite colour (main)") == "trait_favourite_colour_main"
    assert trait_column("größe") == "trait_gr_e"
    assert trait_column("!!") is None
    assert len(trait_column("x" * 100) or "") == 63


def test_keys_that_share_a_column_keep_the_most_used_and_json_nulls_give_no_type() -> None:
    keys = trait_keys(
        [("Plan", "string", 2), ("plan", "string", 5), ("plan", "number", 1), ("gone", "null", 9), ("age", "null", 1)]
    )

    assert keys == [TraitKey("plan", "trait_plan", frozenset({"string", "number"}), 6)]


def test_only_the_most_used_keys_become_columns() -> None:
    counts = [(f"key{n}", "string", n) for n in range(TRAIT_LIMIT + 5)]

    keys = trait_keys(counts)

    assert len(keys) == TRAIT_LIMIT
    assert "trait_key0" not in {key.column for key in keys}


def test_numbers_are_integers_only_when_all_are_whole() -> None:
    assert typed(["1", "2", None], "number").to_list() == [1, 2, None]
    assert typed(["1", "2.5"], "number").dtype == pl.Float64
    assert typed(["1", "99999999999999999999"], "number").dtype == pl.Float64  # past Int64


def test_datetimes_with_and_without_offsets_are_utc_but_a_date_among_them_makes_text() -> None:
    moments = typed(["2026-01-02T03:04:05.5Z", "2026-01-02 03:04:05+01:00", "2026-01-02T03:04:05"], "string")

    assert moments.to_list() == [
        datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC),
        datetime(2026, 1, 2, 2, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    ]
    assert typed(["2026-01-02T03:04:05Z", "2026-01-02"], "string").dtype == pl.String


def test_text_is_a_category_only_when_its_values_repeat() -> None:
    assert typed(["a", "b", "a", "b", None], "string").dtype == pl.Enum(["a", "b"])
    assert typed(["a", "b", "c"], "string").dtype == pl.String
    assert typed(["1", "true", "1", "true"], "number", "string", "boolean").dtype == pl.Enum(["1", "true"])
