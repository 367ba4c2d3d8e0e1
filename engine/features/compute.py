"""One row per customer with every catalogued feature, computed with Polars as of a given "now".

The completed orders up to "now" leave Postgres as three fixed-width columns through binary COPY and are
summed per customer in Polars; Polars joins those totals to the customers, derives the rest (average order
value, recency, ages), types the traits (`engine.features.traits`) and stores low-cardinality fields as
`Enum`s. Summing in Postgres instead (`GROUP BY`, one row per customer out) measured slower on the target
machine: Postgres evaluates the eleven aggregates at ~3.5 us a row; `bench/features.py` times both.

What counts:
- Only **completed** orders count, for every order feature (count, spend, average, first/last, windows).
  A refunded order gave the money back and a cancelled or pending one never took it, so none of them is
  spend, and counting them as orders while leaving out their amount would make the average a lie.
- Only orders placed **at or before "now"** count, so a snapshot taken as of a past time is reproducible.
- A window of N days holds orders at most N whole days before "now" (`engine.features.windows`), the rule
  language's one reading of "within the last N days".
- Whole days (`signup_age_days`, `days_since_last_order`) are floor((now - t) / 24h).
- Amounts are added as recorded, whatever their currency: no conversion.
- A customer without orders has count and spend 0 and no average, first/last order or recency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from engine.features.catalog import STATIC_FEATURES, FeatureType
from engine.features.freshness import CHANGES_QUERY
from engine.features.sources import FixedWidth, SourceReader, parse_utc
from engine.features.traits import TraitKey, trait_keys, typed_trait
from engine.features.windows import earliest_within

SPEND_STATUS = "completed"
WINDOW_DAYS = (30, 90, 365)
DAY_US = 86_400_000_000
PROFILE_COLUMNS = ("external_id", "email", "phone", "first_name", "last_name", "city", "country", "timezone")

_CUSTOMERS_SCHEMA = pl.Schema(
    {
        "customer_id": pl.Int64(),
        **{column: pl.String() for column in PROFILE_COLUMNS},
        "signed_up_at": pl.String(),
        "email_consent": pl.Int8(),  # Postgres writes booleans as t/f, which Polars does not read; 1/0 it does
        "sms_consent": pl.Int8(),
    }
)
ORDER_COLUMNS: dict[str, FixedWidth] = {"customer_id": "int8", "amount": "float8", "ordered_at": "timestamptz"}
_EVENTS_SCHEMA = pl.Schema(
    {"customer_id": pl.Int64(), "name": pl.String(), "occurred_at": pl.String(), "properties": pl.String()}
)


@dataclass(frozen=True)
class FeatureInputs:
    """What the features are computed from, read in one transaction."""

    customers: pl.DataFrame  # profile columns, then one text column per trait key (`traits ->> key`)
    traits: list[TraitKey]
    orders: pl.DataFrame  # completed orders up to now: customer_id, amount, ordered_at
    events: pl.DataFrame  # customer_id, name, occurred_at, properties (JSON text)
    source_totals: dict[str, float]
    source_changes: int  # the changes to the sources this read saw (`engine.features.freshness`)


def read_inputs(
    reader: SourceReader, now: datetime, only: Sequence[int] | None = None, events_of: Sequence[int] = ()
) -> FeatureInputs:
    """Customers, their completed orders, their events and the checks' totals, as of `now` (UTC); or (`only`) of
    just those customers, without the totals, and the events of `events_of` too (a delta's read)."""
    now = _utc(now)
    params: dict[str, Any] = {"now": now, "status": SPEND_STATUS, "ids": list(only or [])}
    traits = trait_keys(reader.rows(_only(TRAIT_TYPES_QUERY, only, "c.id"), params))
    customers = reader.frame(
        _only(_customers_query(len(traits)), only, "id"),
        pl.Schema({**_CUSTOMERS_SCHEMA, **{trait.column: pl.String() for trait in traits}}),
        {**params, **{f"trait_{n}": trait.key for n, trait in enumerate(traits)}},
    )
    orders = reader.fixed_width_frame(_only(ORDERS_QUERY, only, "customer_id"), ORDER_COLUMNS, params)
    event_customers = None if only is None else [*only, *events_of]
    events = reader.frame(
        _only(EVENTS_QUERY, event_customers, "customer_id"), _EVENTS_SCHEMA, {**params, "ids": event_customers or []}
    )
    totals = {}
    if only is None:
        [(customer_count, order_count, spend)] = reader.rows(SOURCE_TOTALS_QUERY, params)
        totals = {"customers": float(customer_count), "orders": float(order_count), "spend": float(spend)}
    [(changes,)] = reader.rows(CHANGES_QUERY)
    return FeatureInputs(customers, traits, orders, events, totals, int(changes))


def read_completed_orders(reader: SourceReader, now: datetime) -> pl.DataFrame:
    """customer_id, amount and ordered_at of every completed order placed up to `now`."""
    return reader.fixed_width_frame(
        _only(ORDERS_QUERY, None, "customer_id"), ORDER_COLUMNS, {"now": _utc(now), "status": SPEND_STATUS}
    )


def order_totals(orders: pl.LazyFrame, now: datetime | pl.Expr) -> pl.LazyFrame:
    """One row per customer with orders: count, spend, first and last order time, and the windows; `now` is a
    time, or a column of `orders` with each order's customer's "now"."""
    now_expr = pl.lit(_utc(now)) if isinstance(now, datetime) else now
    windows = {days: pl.col("ordered_at") >= now_expr + _window_start(days) for days in WINDOW_DAYS}
    return orders.group_by("customer_id").agg(
        pl.len().alias("order_count"),
        pl.col("amount").sum().alias("total_spend"),
        pl.col("ordered_at").min().alias("first_order_at"),
        pl.col("ordered_at").max().alias("last_order_at"),
        *(windows[days].sum().cast(pl.Int64).alias(f"orders_{days}d") for days in WINDOW_DAYS),
        *(pl.col("amount").filter(windows[days]).sum().alias(f"spend_{days}d") for days in WINDOW_DAYS),
    )


def compute_features(inputs: FeatureInputs, now: datetime, as_of: pl.DataFrame | None = None) -> pl.DataFrame:
    """The feature frame: the catalog's static features in its order, then the trait columns by name.

    Every customer's features are as of `now`, or those listed in `as_of` (customer_id, as_of) as of their own
    time (no later than `now`): what a customer's row in an incremental state says, recomputed from `inputs`."""
    now = _utc(now)
    customers = inputs.customers.sort("customer_id")
    profiles = customers.lazy().select(*_CUSTOMERS_SCHEMA.names())
    orders = inputs.orders.lazy()
    if as_of is None:
        profiles = profiles.with_columns(as_of=pl.lit(now))
        totals = order_totals(orders, now)
    else:
        times = as_of.lazy().select("customer_id", pl.col("as_of").dt.convert_time_zone("UTC"))
        profiles = profiles.join(times, on="customer_id", how="left", maintain_order="left").with_columns(
            pl.col("as_of").fill_null(now)
        )
        orders = orders.join(profiles.select("customer_id", "as_of"), on="customer_id").filter(
            pl.col("ordered_at") <= pl.col("as_of")
        )
        totals = order_totals(orders, pl.col("as_of"))
    frame = (
        profiles.join(totals, on="customer_id", how="left", maintain_order="left")
        .with_columns(
            pl.col("order_count").cast(pl.Int64).fill_null(0),
            pl.col("total_spend").fill_null(0.0),
            *(pl.col(f"orders_{days}d").fill_null(0) for days in WINDOW_DAYS),
            *(pl.col(f"spend_{days}d").fill_null(0.0) for days in WINDOW_DAYS),
            pl.col("email_consent", "sms_consent").cast(pl.Boolean),
            parse_utc("signed_up_at"),
        )
        .with_columns(
            signup_age_days=_whole_days_before("signed_up_at"),
            average_order_value=pl.when(pl.col("order_count") > 0).then(pl.col("total_spend") / pl.col("order_count")),
            days_since_last_order=_whole_days_before("last_order_at"),
        )
        .select(feature.name for feature in STATIC_FEATURES)
        .collect()
    )
    categories = [feature.name for feature in STATIC_FEATURES if feature.type is FeatureType.CATEGORY]
    frame = frame.with_columns(_as_enum(frame.get_column(name)) for name in categories)
    return frame.hstack([typed_trait(customers.get_column(trait.column), trait) for trait in inputs.traits])


def event_frame(events: pl.DataFrame) -> pl.DataFrame:
    """The events for behavioural conditions: customer_id, name (an Enum), occurred_at (UTC), properties."""
    return events.select("customer_id", _as_enum(events.get_column("name")), parse_utc("occurred_at"), "properties")


def _whole_days_before(column: str) -> pl.Expr:
    return (pl.col("as_of") - pl.col(column)).dt.total_microseconds() // DAY_US


def _window_start(days: int) -> timedelta:
    """Where a window of `days` starts, relative to "now" (`earliest_within` is the same for every "now")."""
    reference = datetime(2000, 1, 1, tzinfo=UTC)
    return earliest_within(reference, days) - reference


def _as_enum(values: pl.Series) -> pl.Series:
    return values.cast(pl.Enum(values.drop_nulls().unique().sort()))


def _utc(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


TRAIT_TYPES_QUERY = """
SELECT t.key, jsonb_typeof(t.value), count(*)
FROM customers c, jsonb_each(c.traits) t
WHERE true {only}
GROUP BY 1, 2
"""


def _only(query: str, only: Sequence[int] | None, column: str) -> str:
    """`query` narrowed to the customers in the `ids` parameter when `only` names some (its `{only}` becomes
    `AND <column> = ANY(ids)`), else whole."""
    return query.format(only="" if only is None else f"AND {column} = ANY(%(ids)s)")


def _customers_query(traits: int) -> str:
    trait_texts = "".join(f", traits ->> %(trait_{n})s" for n in range(traits))
    return (
        f"SELECT id, {', '.join(PROFILE_COLUMNS)}, signed_up_at, email_consent::int, sms_consent::int{trait_texts} "
        "FROM customers WHERE true {only}"
    )


ORDERS_QUERY = """
SELECT customer_id, amount::float8, ordered_at
FROM orders
WHERE status = %(status)s AND ordered_at <= %(now)s {only}
"""

# Anonymous events never count in a behavioural condition, and nameless ones (identify, alias) match none.
EVENTS_QUERY = """
SELECT customer_id, name, occurred_at, properties::text
FROM events
WHERE customer_id IS NOT NULL AND name IS NOT NULL {only}
"""

SOURCE_TOTALS_QUERY = """
SELECT (SELECT count(*) FROM customers), count(*), coalesce(sum(amount), 0)
FROM orders
WHERE status = %(status)s AND ordered_at <= %(now)s
"""
