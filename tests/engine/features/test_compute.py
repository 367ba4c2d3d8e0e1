"""Feature values for hand-made customers, read from the real tables: spend rules, windows, recency, traits."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy import Engine

from engine.features.catalog import STATIC_FEATURES, FeatureType, catalog_for_schema
from engine.features.compute import compute_features, event_frame, read_inputs
from engine.features.sources import read_transaction
from tests.engine.features.data import NOW, add_customer, add_event, add_order, days_ago


def features_as_of(db: Engine, now: datetime = NOW) -> pl.DataFrame:
    with read_transaction(db) as reader:
        inputs = read_inputs(reader, now)
    return compute_features(inputs, now)


def row(frame: pl.DataFrame, customer_id: int) -> dict[str, object]:
    return frame.filter(pl.col("customer_id") == customer_id).row(0, named=True)


def test_only_completed_orders_up_to_now_count_as_orders_and_spend(database: Engine) -> None:
    ada = add_customer(database, "ada", signed_up_at=days_ago(400.5))
    for amount, days, status in [
        ("100.00", 10, "completed"),
        ("50.50", 60, "completed"),
        ("20.00", 200, "completed"),
        ("5.00", 500, "completed"),
        ("999.00", 5, "refunded"),
        ("77.00", 3, "cancelled"),
        ("12.00", 1, "pending"),
        ("1000.00", -1, "completed"),  # placed after "now": not yet
    ]:
        add_order(database, ada, amount, days_ago(days), status)

    features = row(features_as_of(database), ada)

    assert features["order_count"] == 4
    assert features["total_spend"] == pytest.approx(175.5)
    assert features["average_order_value"] == pytest.approx(175.5 / 4)
    assert features["first_order_at"] == days_ago(500)
    assert features["last_order_at"] == days_ago(10)
    assert features["days_since_last_order"] == 10
    assert (features["orders_30d"], features["spend_30d"]) == (1, pytest.approx(100.0))
    assert (features["orders_90d"], features["spend_90d"]) == (2, pytest.approx(150.5))
    assert (features["orders_365d"], features["spend_365d"]) == (3, pytest.approx(170.5))
    assert features["signup_age_days"] == 400


def test_customers_without_counting_orders_have_zero_spend_and_no_recency(database: Engine) -> None:
    nobody = add_customer(database, "nobody")
    refunded = add_customer(database, "refunded", signed_up_at=days_ago(2))
    add_order(database, refunded, "40.00", days_ago(1), "refunded")

    frame = features_as_of(database)

    for customer in (nobody, refunded):
        features = row(frame, customer)
        assert features["order_count"] == 0
        assert features["total_spend"] == 0.0
        assert [features[f"orders_{d}d"] for d in (30, 90, 365)] == [0, 0, 0]
        assert [features[f"spend_{d}d"] for d in (30, 90, 365)] == [0.0, 0.0, 0.0]
        for unset in ("average_order_value", "first_order_at", "last_order_at", "days_since_last_order"):
            assert features[unset] is None
    assert row(frame, nobody)["signup_age_days"] is None
    assert row(frame, refunded)["signup_age_days"] == 2


def test_a_window_holds_orders_up_to_its_whole_days_ago_and_now(database: Engine) -> None:
    ada = add_customer(database, "ada")
    add_order(database, ada, "1.00", days_ago(30.4))  # 30 whole days ago: in the last 30 days
    add_order(database, ada, "2.00", NOW)
    add_order(database, ada, "4.00", days_ago(31) + timedelta(microseconds=1))  # still 30 whole days
    add_order(database, ada, "8.00", days_ago(31))  # 31 whole days: out

    features = row(features_as_of(database), ada)

    assert (features["orders_30d"], features["spend_30d"]) == (3, pytest.approx(7.0))
    assert features["days_since_last_order"] == 0


def test_whole_days_are_floored_and_now_is_an_input(database: Engine) -> None:
    ada = add_customer(database, "ada", signed_up_at=days_ago(9.99))
    add_order(database, ada, "10.00", days_ago(3.5))

    today = row(features_as_of(database), ada)
    week_later = row(features_as_of(database, NOW + timedelta(days=7)), ada)

    assert (today["signup_age_days"], today["days_since_last_order"]) == (9, 3)
    assert (week_later["signup_age_days"], week_later["days_since_last_order"]) == (16, 10)
    assert week_later["orders_30d"] == 1


def test_profile_fields_and_consent_are_copied_and_categories_are_enums(database: Engine) -> None:
    ada = add_customer(
        database,
        "ada-1",
        email="ada@example.com",
        phone="+447700900123",
        first_name="Ada",
        last_name="Lovelace",
        city="London",
        country="GB",
        timezone="Europe/London",
        signed_up_at=days_ago(1),
        email_consent=True,
        sms_consent=False,
    )
    add_customer(database, "raj", city="Mumbai", country="IN", email="")

    frame = features_as_of(database)

    features = row(frame, ada)
    assert {key: features[key] for key in ("external_id", "email", "phone", "first_name", "last_name")} == {
        "external_id": "ada-1",
        "email": "ada@example.com",
        "phone": "+447700900123",
        "first_name": "Ada",
        "last_name": "Lovelace",
    }
    assert (features["city"], features["country"], features["timezone"]) == ("London", "GB", "Europe/London")
    assert (features["email_consent"], features["sms_consent"]) == (True, False)
    assert features["signed_up_at"] == days_ago(1)
    assert frame.schema["city"] == pl.Enum(["London", "Mumbai"])
    assert frame.schema["timezone"] == pl.Enum(["Europe/London"])
    assert frame.filter(pl.col("external_id") == "raj")["email"].to_list() == [""]  # empty is not missing


def test_the_frame_has_every_catalogued_feature_in_order_with_its_type(database: Engine) -> None:
    add_customer(database, "ada", traits={"plan": "gold"})
    frame = features_as_of(database)

    assert frame.columns == [feature.name for feature in STATIC_FEATURES] + ["trait_plan"]
    catalog = catalog_for_schema(frame.schema)
    for feature in STATIC_FEATURES:
        dtype = frame.schema[feature.name]
        if feature.type is FeatureType.CATEGORY:
            assert isinstance(dtype, pl.Enum), feature.name
        else:
            assert dtype == feature.polars_dtype, feature.name
    assert [feature.name for feature in catalog] == frame.columns


def test_traits_become_columns_typed_by_what_every_value_agrees_on(database: Engine) -> None:
    ada = add_customer(
        database,
        "ada",
        traits={
            "age": 36,
            "score": 4.5,
            "vip": True,
            "birthday": "1990-12-10",
            "lastLogin": "2026-11-20T09:30:00+05:30",
            "plan": "gold",
            "mixed": 1,
            "nested": {"a": 1},
            "nickname": "ada",
        },
    )
    bob = add_customer(
        database,
        "bob",
        traits={
            "age": 41,
            "score": 3,
            "vip": False,
            "birthday": "1985-01-02",
            "lastLogin": "2026-11-21 10:00:00",
            "plan": "gold",
            "mixed": "one",
            "nested": [1, 2],
            "nickname": "bobby",
        },
    )
    cy = add_customer(database, "cy", traits={"age": None, "plan": "free", "birthday": "not a date"})
    dee = add_customer(database, "dee", traits={"plan": "gold"})

    frame = features_as_of(database)

    assert frame.schema["trait_age"] == pl.Int64
    assert frame.schema["trait_score"] == pl.Float64
    assert frame.schema["trait_vip"] == pl.Boolean
    assert frame.schema["trait_birthday"] == pl.String  # one value is not a date
    assert frame.schema["trait_last_login"] == pl.Datetime("us", "UTC")
    assert frame.schema["trait_plan"] == pl.Enum(["free", "gold"])
    assert frame.schema["trait_mixed"] == pl.String
    assert frame.schema["trait_nickname"] == pl.String  # every value differs: not a category
    by_customer = {customer: row(frame, customer) for customer in (ada, bob, cy, dee)}
    assert [by_customer[c]["trait_age"] for c in (ada, bob, cy, dee)] == [36, 41, None, None]
    assert [by_customer[c]["trait_score"] for c in (ada, bob)] == [4.5, 3.0]
    assert [by_customer[c]["trait_vip"] for c in (ada, bob, cy)] == [True, False, None]
    assert by_customer[ada]["trait_last_login"] == datetime.fromisoformat("2026-11-20T04:00:00+00:00")
    assert by_customer[bob]["trait_last_login"] == datetime.fromisoformat("2026-11-21T10:00:00+00:00")
    assert [by_customer[c]["trait_mixed"] for c in (ada, bob)] == ["1", "one"]
    assert [by_customer[c]["trait_nested"] for c in (ada, bob)] == ['{"a": 1}', "[1, 2]"]
    catalog = catalog_for_schema(frame.schema)
    assert catalog["trait_last_login"].type is FeatureType.DATETIME
    assert catalog["trait_plan"].type is FeatureType.CATEGORY


def test_date_traits_stay_dates(database: Engine) -> None:
    ada = add_customer(database, "ada", traits={"birthday": "1990-12-10"})
    add_customer(database, "bob", traits={"birthday": "1985-01-02"})

    frame = features_as_of(database)

    assert frame.schema["trait_birthday"] == pl.Date
    assert row(frame, ada)["trait_birthday"] == date(1990, 12, 10)


def test_the_event_frame_holds_named_events_of_known_customers(database: Engine) -> None:
    ada = add_customer(database, "ada")
    add_event(database, ada, "Product Viewed", days_ago(2), {"sku": "TEE-M", "price": 599})
    add_event(database, ada, None, days_ago(1))
    add_event(database, None, "Product Viewed", days_ago(1))

    with read_transaction(database) as reader:
        events = event_frame(read_inputs(reader, NOW).events)

    assert events.schema == pl.Schema(
        {
            "customer_id": pl.Int64(),
            "name": pl.Enum(["Product Viewed"]),
            "occurred_at": pl.Datetime("us", "UTC"),
            "properties": pl.String(),
        }
    )
    [event] = events.to_dicts()
    assert (event["customer_id"], event["name"], event["occurred_at"]) == (ada, "Product Viewed", days_ago(2))
    assert pl.Series([event["properties"]]).str.json_decode().to_list() == [{"price": 599, "sku": "TEE-M"}]
