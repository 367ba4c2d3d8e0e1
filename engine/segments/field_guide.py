"""The feature catalog as a rule builder (or an AI) needs it: each feature with the operators its type
allows and example values.

Declared features carry their own examples; a trait discovered in a snapshot has none declared, so its
examples are its most common values in that snapshot (ties in value order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from engine.features.catalog import Catalog, Feature, FeatureType
from engine.segments.validation import OPERATORS_BY_TYPE

EXAMPLES_PER_FEATURE = 3
# The order operators are offered in: the most used first.
_OPERATOR_ORDER = (
    "=", "!=", "in", "not in", ">", ">=", "<", "<=", "between", "within last days", "more than days ago",
    "contains", "starts with", "is set", "is not set",
)  # fmt: skip


@dataclass(frozen=True)
class FieldGuide:
    """One feature for the builder."""

    name: str
    type: FeatureType
    label: str
    description: str
    examples: list[Any]
    operators: list[str]


def operators_for(kind: FeatureType) -> list[str]:
    allowed = OPERATORS_BY_TYPE[kind]
    return [op for op in _OPERATOR_ORDER if op in allowed]


def field_guide(catalog: Catalog, features: pl.DataFrame | None = None) -> list[FieldGuide]:
    """Every feature of the catalog, in catalog order; `features` (a snapshot) supplies traits' examples."""
    return [
        FieldGuide(
            name=feature.name,
            type=feature.type,
            label=feature.label,
            description=feature.description,
            examples=list(feature.examples) or _observed_examples(feature, features),
            operators=operators_for(feature.type),
        )
        for feature in catalog
    ]


def _observed_examples(feature: Feature, features: pl.DataFrame | None) -> list[Any]:
    if features is None:
        return []
    return [value for value, _ in common_values(feature, features, EXAMPLES_PER_FEATURE)]


def common_values(feature: Feature, features: pl.DataFrame, limit: int) -> list[tuple[Any, int]]:
    """The feature's `limit` most common values in a snapshot with how many customers have each, most first (ties
    in value order); a category's values as text. A builder's pick list, and a trait's examples."""
    if feature.name not in features.columns:
        return []
    column = features.get_column(feature.name).drop_nulls()
    if column.is_empty():
        return []
    counts = column.value_counts().sort(["count", feature.name], descending=[True, False]).head(limit)
    values = counts.get_column(feature.name)
    shown = values.cast(pl.String).to_list() if feature.type is FeatureType.CATEGORY else values.to_list()
    return list(zip(shown, counts.get_column("count").to_list(), strict=True))
