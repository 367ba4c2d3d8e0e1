"""Six customers in Postgres and their feature snapshot, small enough to know every answer by heart.

id  name          city     total_spend  order_count  last order        purchases (last 30 days)
1   Ada Lovelace  London   1200         5            10 days ago       2
2   Ravi Shah     Mumbai   300          2            40 days ago       0 (1 older)
3   Mei Lin       Paris    0            0            never             0
4   Sam Okafor    Mumbai   5000         12           200 days ago      0
5   Noor Khan     Delhi    800          3            5 days ago        1
6   Ivan Petrov   London   50           1            400 days ago      0
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl
from sqlalchemy import Engine, insert

from engine.features.catalog import base_catalog
from engine.schema import customers, events, orders

TAKEN_AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CITIES = pl.Enum(["Delhi", "London", "Mumbai", "Paris"])
PEOPLE = [
    (1, "Ada", "Lovelace", "London", 1200.0, 5, 10),
    (2, "Ravi", "Shah", "Mumbai", 300.0, 2, 40),
    (3, "Mei", "Lin", "Paris", 0.0, 0, None),
    (4, "Sam", "Okafor", "Mumbai", 5000.0, 12, 200),
    (5, "Noor", "Khan", "Delhi", 800.0, 3, 5),
    (6, "Ivan", "Petrov", "London", 50.0, 1, 400),
]
PURCHASES = [(1, 3), (1, 20), (2, 90), (5, 1)]  # (customer id, days before the snapshot)

BIG_SPENDERS = {"field": "total_spend", "op": ">", "value": 500}  # 1, 4, 5
LOYAL_IN_LONDON_OR_MUMBAI = {
    "and": [
        {"or": [{"field": "total_spend", "op": ">", "value": 1000}, {"field": "order_count", "op": ">=", "value": 3}]},
        {"field": "city", "op": "in", "value": ["London", "Mumbai"]},
    ]
}  # or: 1, 4, 5; city: 1, 2, 4, 6; both: 1, 4
RECENT_BUYERS = {"event": "purchase", "op": "at least", "count": 1, "within_days": 30}  # 1, 5


def email(first_name: str) -> str:
    return f"{first_name.lower()}@shop.example"


def features(spend_change: dict[int, float] | None = None) -> pl.DataFrame:
    """The snapshot of the six (every catalogued feature, most of them unset), some spend changed if asked."""
    spend_change = spend_change or {}
    known = pl.DataFrame(
        {
            "customer_id": [person[0] for person in PEOPLE],
            "external_id": [f"cus_{person[0]}" for person in PEOPLE],
            "email": [email(person[1]) for person in PEOPLE],
            "first_name": [person[1] for person in PEOPLE],
            "last_name": [person[2] for person in PEOPLE],
            "city": pl.Series([person[3] for person in PEOPLE], dtype=CITIES),
            "total_spend": [spend_change.get(person[0], person[4]) for person in PEOPLE],
            "order_count": [person[5] for person in PEOPLE],
            "last_order_at": [TAKEN_AT - timedelta(days=person[6]) if person[6] else None for person in PEOPLE],
            "trait_plan": ["gold", "free", "free", "gold", "silver", None],
        }
    )
    unset = [pl.lit(None, feature.polars_dtype).alias(feature.name) for feature in base_catalog()]
    return known.with_columns(column for column in unset if column.meta.output_name() not in known.columns).select(
        *(feature.name for feature in base_catalog()), "trait_plan"
    )


def event_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": [customer for customer, _ in PURCHASES],
            "name": ["purchase"] * len(PURCHASES),
            "occurred_at": [TAKEN_AT - timedelta(days=days) for _, days in PURCHASES],
            "properties": ["{}"] * len(PURCHASES),
        }
    )


def store_customers(db: Engine) -> None:
    """The six in Postgres with their orders (the latest one at `last order`) and purchase events."""
    with db.begin() as conn:
        conn.execute(
            insert(customers),
            [
                {
                    "id": id_,
                    "external_id": f"cus_{id_}",
                    "email": email(first),
                    "phone": f"+4477009000{id_:02d}",
                    "first_name": first,
                    "last_name": last,
                    "city": city,
                }
                for id_, first, last, city, *_ in PEOPLE
            ],
        )
        conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('customers', 'id'), max(id)) FROM customers")
        conn.execute(
            insert(orders),
            [
                {
                    "external_id": f"ord_{id_}_{n}",
                    "customer_id": id_,
                    "amount": Decimal(str(round(spend / count, 2))),
                    "currency": "GBP",
                    "ordered_at": TAKEN_AT - timedelta(days=last_days + n),
                }
                for id_, _, _, _, spend, count, last_days in PEOPLE
                if last_days is not None
                for n in range(count)
            ],
        )
        conn.execute(
            insert(events),
            [
                {
                    "message_id": f"m{number}",
                    "customer_id": customer,
                    "type": "track",
                    "name": "purchase",
                    "occurred_at": TAKEN_AT - timedelta(days=days),
                }
                for number, (customer, days) in enumerate(PURCHASES)
            ],
        )
