"""The feature catalog: what each customer feature is called, its type, what it means and what it looks like.

One declaration per feature. The rule validator, the segment compilers, the English renderer, the
dashboard's rule builder and the AI all read this catalog, so a feature added here is usable everywhere.
Customer attributes from `identify` traits are dynamic: the snapshot stores them as typed columns named
`trait_<key>`, and `catalog_for_schema` adds whichever it finds to the static declarations.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum

import polars as pl
from pydantic import BaseModel, ConfigDict, StrictBool, StrictFloat, StrictInt, StrictStr

TRAIT_PREFIX = "trait_"

ExampleValue = StrictBool | StrictInt | StrictFloat | StrictStr


class FeatureType(StrEnum):
    """The kinds of value a feature holds; each allows its own rule operators."""

    NUMBER = "number"
    INTEGER = "integer"
    STRING = "string"
    CATEGORY = "category"  # a string with few distinct values, stored as a Polars Enum/Categorical
    BOOLEAN = "boolean"
    DATETIME = "datetime"  # an instant, stored in UTC
    DATE = "date"


_POLARS_DTYPES: dict[FeatureType, pl.DataType] = {
    FeatureType.NUMBER: pl.Float64(),
    FeatureType.INTEGER: pl.Int64(),
    FeatureType.STRING: pl.String(),
    FeatureType.CATEGORY: pl.Categorical(),
    FeatureType.BOOLEAN: pl.Boolean(),
    FeatureType.DATETIME: pl.Datetime("us", "UTC"),
    FeatureType.DATE: pl.Date(),
}


class Feature(BaseModel):
    """One customer feature: a column of the snapshot that rules may test."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: FeatureType
    label: str
    description: str
    examples: tuple[ExampleValue, ...] = ()

    @property
    def low_cardinality(self) -> bool:
        """Whether the snapshot should store this feature dictionary-encoded (Enum/Categorical)."""
        return self.type is FeatureType.CATEGORY

    @property
    def polars_dtype(self) -> pl.DataType:
        """The dtype the snapshot stores this feature as (a category may also be a `pl.Enum`)."""
        return _POLARS_DTYPES[self.type]


class Catalog:
    """The features of one snapshot, by name, in declaration order."""

    def __init__(self, features: Iterable[Feature]) -> None:
        self._features = {feature.name: feature for feature in features}

    def get(self, name: str) -> Feature | None:
        return self._features.get(name)

    def __getitem__(self, name: str) -> Feature:
        return self._features[name]

    def __contains__(self, name: object) -> bool:
        return name in self._features

    def __iter__(self) -> Iterator[Feature]:
        return iter(self._features.values())

    def __len__(self) -> int:
        return len(self._features)

    def polars_schema(self) -> pl.Schema:
        """The snapshot's column dtypes, in catalog order."""
        return pl.Schema({feature.name: feature.polars_dtype for feature in self})


def _feature(name: str, kind: FeatureType, label: str, description: str, *examples: ExampleValue) -> Feature:
    return Feature(name=name, type=kind, label=label, description=description, examples=examples)


def _window_features() -> list[Feature]:
    features = []
    for days in (30, 90, 365):
        before = f"in the {days} days before the snapshot"
        features += [
            _feature(
                f"orders_{days}d",
                FeatureType.INTEGER,
                f"orders in the last {days} days",
                f"How many orders the customer placed {before}.",
                0,
                2,
            ),
            _feature(
                f"spend_{days}d",
                FeatureType.NUMBER,
                f"spend in the last {days} days",
                f"The total amount of the customer's orders {before}.",
                0.0,
                129.5,
            ),
        ]
    return features


_T = FeatureType
STATIC_FEATURES: tuple[Feature, ...] = (
    _feature("customer_id", _T.INTEGER, "customer id", "The customer's id in Xeno.", 1, 42),
    _feature("external_id", _T.STRING, "external id", "The id the integrator gave the customer.", "cus_0001"),
    _feature("email", _T.STRING, "e-mail", "The customer's e-mail address.", "ada@example.com"),
    _feature("phone", _T.STRING, "phone", "The customer's phone number, in E.164 form.", "+447700900123"),
    _feature("first_name", _T.STRING, "first name", "The customer's first name.", "Ada"),
    _feature("last_name", _T.STRING, "last name", "The customer's last name.", "Lovelace"),
    _feature("city", _T.CATEGORY, "city", "The customer's city.", "London", "Mumbai"),
    _feature("country", _T.CATEGORY, "country", "The customer's country (ISO 3166 alpha-2).", "GB", "IN"),
    _feature("timezone", _T.CATEGORY, "time zone", "The customer's IANA time zone.", "Europe/London"),
    _feature("signed_up_at", _T.DATETIME, "sign-up", "When the customer signed up.", "2024-03-01T09:30:00Z"),
    _feature("signup_age_days", _T.INTEGER, "days since sign-up",
             "Whole days from sign-up to the snapshot.", 3, 400),
    _feature("email_consent", _T.BOOLEAN, "e-mail consent",
             "Whether the customer agreed to receive e-mail.", True, False),
    _feature("sms_consent", _T.BOOLEAN, "SMS consent",
             "Whether the customer agreed to receive SMS.", True, False),
    _feature("total_spend", _T.NUMBER, "total spend",
             "The total amount of all the customer's orders.", 0.0, 12500.0),
    _feature("order_count", _T.INTEGER, "order count", "How many orders the customer has placed.", 0, 7),
    _feature("average_order_value", _T.NUMBER, "average order value",
             "Total spend divided by order count; unset without orders.", 54.9),
    _feature("first_order_at", _T.DATETIME, "first order",
             "When the customer placed their first order.", "2024-04-02T18:00:00Z"),
    _feature("last_order_at", _T.DATETIME, "last order",
             "When the customer placed their latest order.", "2025-01-15T12:00:00Z"),
    _feature("days_since_last_order", _T.INTEGER, "days since last order",
             "Whole days from the latest order to the snapshot; unset without orders.", 0, 90),
    *_window_features(),
)  # fmt: skip


def _trait_type(dtype: pl.DataType) -> FeatureType | None:
    if dtype.is_float() or dtype.is_decimal():
        return FeatureType.NUMBER
    if dtype.is_integer():
        return FeatureType.INTEGER
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return FeatureType.CATEGORY
    if isinstance(dtype, pl.Datetime):
        return FeatureType.DATETIME
    return {pl.String: FeatureType.STRING, pl.Boolean: FeatureType.BOOLEAN, pl.Date: FeatureType.DATE}.get(
        dtype.base_type()
    )


def trait_feature(column: str, dtype: pl.DataType) -> Feature | None:
    """The feature for a `trait_<key>` column, or None when its dtype is not one rules can test."""
    feature_type = _trait_type(dtype)
    if feature_type is None or not column.startswith(TRAIT_PREFIX):
        return None
    key = column.removeprefix(TRAIT_PREFIX)
    return Feature(
        name=column,
        type=feature_type,
        label=key.replace("_", " "),
        description=f"The customer attribute `{key}`, from `identify` traits.",
    )


def base_catalog() -> Catalog:
    """The static features every snapshot has."""
    return Catalog(STATIC_FEATURES)


def catalog_for_schema(schema: Mapping[str, pl.DataType]) -> Catalog:
    """The static features plus the trait columns present in a snapshot with this schema."""
    traits = (trait_feature(column, dtype) for column, dtype in schema.items())
    return Catalog([*STATIC_FEATURES, *(feature for feature in traits if feature is not None)])
