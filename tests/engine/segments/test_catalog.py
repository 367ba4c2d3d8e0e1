"""The feature catalog: every declared feature is typed and described; traits join it from the snapshot."""

from __future__ import annotations

import polars as pl

from engine.features.catalog import FeatureType, base_catalog, catalog_for_schema


def test_every_static_feature_has_a_type_label_and_description() -> None:
    catalog = base_catalog()
    for name in ("customer_id", "total_spend", "days_since_last_order", "orders_90d", "spend_365d", "signup_age_days"):
        assert name in catalog
    for feature in catalog:
        assert feature.label
        assert feature.description.endswith(".")
    assert catalog["last_order_at"].type is FeatureType.DATETIME


def test_low_cardinality_fields_are_stored_dictionary_encoded() -> None:
    catalog = base_catalog()
    assert {feature.name for feature in catalog if feature.low_cardinality} == {"city", "country", "timezone"}
    assert catalog.polars_schema()["city"] == pl.Categorical()
    assert catalog.polars_schema()["signed_up_at"] == pl.Datetime("us", "UTC")


def test_trait_columns_join_the_catalog_with_their_types() -> None:
    catalog = catalog_for_schema(
        {
            "customer_id": pl.Int64(),
            "trait_plan": pl.Enum(["free", "gold"]),
            "trait_age": pl.Int32(),
            "trait_ltv": pl.Decimal(12, 2),
            "trait_vip": pl.Boolean(),
            "trait_birthday": pl.Date(),
            "trait_tags": pl.List(pl.String),
            "unrelated": pl.String(),
        }
    )
    types = {feature.name: feature.type for feature in catalog if feature.name.startswith("trait_")}
    assert types == {
        "trait_plan": FeatureType.CATEGORY,
        "trait_age": FeatureType.INTEGER,
        "trait_ltv": FeatureType.NUMBER,
        "trait_vip": FeatureType.BOOLEAN,
        "trait_birthday": FeatureType.DATE,
    }
    assert catalog["trait_birthday"].label == "birthday"
    assert "unrelated" not in catalog
