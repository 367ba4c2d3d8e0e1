"""One row per customer with every catalogued feature, computed with Polars as of a given "now".

Orders are summed per customer by Postgres (`GROUP BY`, one row per customer instead of every order: 10M
orders leave the database as 1M rows; `bench/features.py` measures it against copying every order out and
grouping in Polars). Polars joins those totals to the customers, derives the rest (average order value,
recency, ages), types the traits (`engine.features.traits`) and stores low-cardinality fields as `Enum`s.

What counts:
- Only **completed** orders count, for every order feature (count, spend, average, first/last, windows).
  A refunded order gave the money back and a cancelled or pending one never took it, so none of them is
  spend, and counting them as orders while leaving out their amount would make the average a lie.
- Only orders placed **at or before "now"** count, so a snapshot taken as of a past time is reproducible.
- A window of N days holds orders with `now - N*24h <= ordered_at <= now`, the rule language's reading of
  "within the last N days".
- Whole days (`signup_age_days`, `days_since_last_order`) are floor((now - t) / 24h).
- Amounts are added as recorded, whatever their currency: no conversion.
- A customer without orders has count and spend 0 and no average, first/last order or recency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

from engine.features.catalog import STATIC_FEATURES, FeatureType
from engine.features.sources import SourceReader, epoch_us, from_epoch_us
from engine.features.traits import TraitKey, trait_keys, typed_trait

SPEND_STATUS = "completed"
WINDOW_DAYS = (30, 90, 365)
DAY_US = 86_400_000_000
PROFILE_COLUMNS = ("external_id", "email", "phone", "first_name", "last_name", "city", "country", "timezone")

_CUSTOMERS_SCHEMA = pl.Schema(
    {
        "customer_id": pl.Int64(),
        **{column: pl.String() for column in PROFILE_COLUMNS},
        "signed_up_us": pl.Int64(),
        "email_consent": pl.Int8(),  # Postgres writes booleans as t/f, which Polars does not read; 1/0 it does
        "sms_consent": pl.Int8(),
    }
)
_ORDER_TOTALS_SCHEMA = pl.Schema(
    {
        "customer_id": pl.Int64(),
        "order_count": pl.Int64(),
        "total_spend": pl.Float64(),
        "first_order_us": pl.Int64(),
        "last_order_us": pl.Int64(),
        **{name: dtype for days in WINDOW_DAYS for name, dtype in ((f"orders_{days}d", pl.Int64()),
                                                                    (f"spend_{days}d", pl.Float64()))},
    }
)  # fmt: skip
EVENTS_SCHEMA = pl.Schema(
    {"customer_id": pl.Int64(), "name": pl.String(), "occurred_us": pl.Int64(), "properties": pl.String()}
)


@dataclass(frozen=True)
class FeatureInputs:
    """What the features are computed from, read in one transaction."""

    customers: pl.DataFrame  # profile columns, then one text column per trait key (`traits ->> key`)
    traits: list[TraitKey]
    order_totals: pl.DataFrame  # one row per customer with completed orders up to now
    events: pl.DataFrame  # customer_id, name, occurred_us, properties (JSON text)
    source_totals: dict[str, float]


def read_inputs(reader: SourceReader, now: datetime) -> FeatureInputs:
    """Customers, their order totals, their events and the checks' totals, as of `now` (UTC)."""
    now = _utc(now)
    traits = trait_keys(reader.rows(TRAIT_TYPES_QUERY))
    customers = reader.frame(
        _customers_query(len(traits)),
        pl.Schema({**_CUSTOMERS_SCHEMA, **{trait.column: pl.String() for trait in traits}}),
        [trait.key for trait in traits],
    )
    bounds = {"now": now, "status": SPEND_STATUS} | {
        f"since_{days}": now - timedelta(days=days) for days in WINDOW_DAYS
    }
    order_totals = reader.frame(ORDER_TOTALS_QUERY, _ORDER_TOTALS_SCHEMA, bounds)
    events = reader.frame(EVENTS_QUERY, EVENTS_SCHEMA)
    [(customer_count, order_count, spend)] = reader.rows(SOURCE_TOTALS_QUERY, bounds)
    totals = {"customers": float(customer_count), "orders": float(order_count), "spend": float(spend)}
    return FeatureInputs(customers, traits, order_totals, events, totals)


def compute_features(inputs: FeatureInputs, now: datetime) -> pl.DataFrame:
    """The feature frame: the catalog's static features in its order, then the trait columns by name."""
    now_us = _epoch_us(_utc(now))
    zero_counts = [pl.col(f"orders_{days}d").fill_null(0) for days in WINDOW_DAYS]
    zero_spend = [pl.col(f"spend_{days}d").fill_null(0.0) for days in WINDOW_DAYS]
    customers = inputs.customers.sort("customer_id")
    frame = (
        customers.lazy()
        .select(*_CUSTOMERS_SCHEMA.names())
        .join(inputs.order_totals.lazy(), on="customer_id", how="left", maintain_order="left")
        .with_columns(
            pl.col("order_count").fill_null(0),
            pl.col("total_spend").fill_null(0.0),
            *zero_counts,
            *zero_spend,
            pl.col("email_consent", "sms_consent").cast(pl.Boolean),
            signed_up_at=from_epoch_us("signed_up_us"),
            signup_age_days=(now_us - pl.col("signed_up_us")) // DAY_US,
            average_order_value=pl.when(pl.col("order_count") > 0).then(pl.col("total_spend") / pl.col("order_count")),
            first_order_at=from_epoch_us("first_order_us"),
            last_order_at=from_epoch_us("last_order_us"),
            days_since_last_order=(now_us - pl.col("last_order_us")) // DAY_US,
        )
        .select(feature.name for feature in STATIC_FEATURES)
        .collect()
    )
    categories = [feature.name for feature in STATIC_FEATURES if feature.type is FeatureType.CATEGORY]
    frame = frame.with_columns(_as_enum(frame.get_column(name)) for name in categories)
    return frame.hstack([typed_trait(customers.get_column(trait.column), trait) for trait in inputs.traits])


def event_frame(events: pl.DataFrame) -> pl.DataFrame:
    """The events for behavioural conditions: customer_id, name (an Enum), occurred_at (UTC), properties."""
    return events.select(
        "customer_id",
        _as_enum(events.get_column("name")),
        from_epoch_us("occurred_us").alias("occurred_at"),
        "properties",
    )


def _as_enum(values: pl.Series) -> pl.Series:
    return values.cast(pl.Enum(values.drop_nulls().unique().sort()))


def _utc(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _epoch_us(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


TRAIT_TYPES_QUERY = """
SELECT t.key, jsonb_typeof(t.value), count(*)
FROM customers c, jsonb_each(c.traits) t
GROUP BY 1, 2
"""


def _customers_query(traits: int) -> str:
    trait_texts = "".join(", traits ->> %s" for _ in range(traits))
    return (
        f"SELECT id, {', '.join(PROFILE_COLUMNS)}, {epoch_us('signed_up_at')}, email_consent::int, sms_consent::int"
        f"{trait_texts} FROM customers"
    )


_WINDOWS = "".join(
    f", count(*) FILTER (WHERE ordered_at >= %(since_{days})s)"
    f", sum(amount) FILTER (WHERE ordered_at >= %(since_{days})s)"
    for days in WINDOW_DAYS
)
ORDER_TOTALS_QUERY = f"""
SELECT customer_id, count(*), sum(amount), {epoch_us("min(ordered_at)")}, {epoch_us("max(ordered_at)")}{_WINDOWS}
FROM orders
WHERE status = %(status)s AND ordered_at <= %(now)s
GROUP BY customer_id
"""

# Anonymous events never count in a behavioural condition, and nameless ones (identify, alias) match none.
EVENTS_QUERY = f"""
SELECT customer_id, name, {epoch_us("occurred_at")}, properties::text
FROM events
WHERE customer_id IS NOT NULL AND name IS NOT NULL
"""

SOURCE_TOTALS_QUERY = """
SELECT (SELECT count(*) FROM customers), count(*), coalesce(sum(amount), 0)
FROM orders
WHERE status = %(status)s AND ordered_at <= %(now)s
"""
