"""Customer attributes from `identify` traits as typed `trait_<key>` columns, each key's type read from the data.

A key's column takes the type every non-null value agrees on: JSON numbers become integers when all are
whole (else floats), JSON booleans booleans, strings that are all ISO dates (`2024-03-01`) dates, strings
that are all ISO date-times datetimes in UTC (a value without an offset is taken to be UTC already). Any
disagreement, objects and arrays make it text (`traits ->> key`: numbers in JSON spelling, objects as JSON).
Text with few distinct values, each repeated on average, is stored as an `Enum`, like the catalog's other
categories.

Column names are the key in snake case with anything but letters and digits as `_` (`loyaltyTier` ->
`trait_loyalty_tier`), cut to Postgres' 63-byte limit. Keys that come out the same (`Plan` and `plan`)
share one column: the key set on more customers wins. At most `TRAIT_LIMIT` keys, the most used, become
columns, so a stray integration cannot blow the snapshot past Postgres' column limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from engine.features.catalog import TRAIT_PREFIX

TRAIT_LIMIT = 200
CATEGORY_LIMIT = 256  # at most this many distinct values for text to be stored as an Enum
_POSTGRES_NAME_BYTES = 63


@dataclass(frozen=True)
class TraitKey:
    """A traits key as the data has it: the JSON types of its non-null values and how many customers set it."""

    key: str
    column: str
    json_types: frozenset[str]
    customers: int


def trait_column(key: str) -> str | None:
    """The column for a traits key, or None when nothing of the key survives (`"!!"`)."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key)
    words = re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")
    if not words:
        return None
    return (TRAIT_PREFIX + words)[:_POSTGRES_NAME_BYTES]


def trait_keys(type_counts: Iterable[tuple[str, str, int]]) -> list[TraitKey]:
    """The keys that become columns, from (key, JSON type, customers) counts; sorted by column name."""
    types: dict[str, set[str]] = {}
    customers: dict[str, int] = {}
    for key, json_type, count in type_counts:
        if json_type == "null":
            continue
        types.setdefault(key, set()).add(json_type)
        customers[key] = customers.get(key, 0) + count
    chosen: dict[str, TraitKey] = {}
    for key in sorted(types, key=lambda k: (-customers[k], k)):
        column = trait_column(key)
        if column is None or column in chosen:
            continue
        chosen[column] = TraitKey(key, column, frozenset(types[key]), customers[key])
        if len(chosen) == TRAIT_LIMIT:
            break
    return sorted(chosen.values(), key=lambda trait: trait.column)


def typed_trait(text: pl.Series, trait: TraitKey) -> pl.Series:
    """The column of one trait from its values as text (`traits ->> key`), typed as the module says."""
    present = text.drop_nulls()
    if trait.json_types == {"number"}:
        whole = present.cast(pl.Int64, strict=False)
        dtype = pl.Int64 if whole.null_count() == 0 else pl.Float64
        typed = text.cast(dtype)
    elif trait.json_types == {"boolean"}:
        typed = text == "true"
    elif trait.json_types == {"string"}:
        typed = _temporal(text) if len(present) else text
        if typed.dtype == pl.String:
            typed = _maybe_category(text, present)
    else:
        typed = _maybe_category(text, present)
    return typed.alias(trait.column)


def _temporal(text: pl.Series) -> pl.Series:
    """Dates or UTC datetimes when every value parses as one, else the text unchanged."""
    dates = text.str.to_date("%Y-%m-%d", strict=False)
    if dates.null_count() == text.null_count():
        return dates
    # `2024-03-01 09:30:00` is as ISO as `2024-03-01T09:30:00`; one separator keeps the formats few.
    spelled = text.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T")
    with_offset = spelled.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%#z", time_unit="us", time_zone="UTC", strict=False)
    naive = spelled.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False).dt.replace_time_zone("UTC")
    moments = with_offset.fill_null(naive)
    if moments.null_count() == text.null_count():
        return moments
    return text


def _maybe_category(text: pl.Series, present: pl.Series) -> pl.Series:
    distinct = present.unique().sort()
    if len(distinct) <= CATEGORY_LIMIT and 2 * len(distinct) <= len(present):
        return text.cast(pl.Enum(distinct))
    return text
