"""Synthetic snapshots to score rules on: customers, their orders and events, features derived consistently.

Every feature comes from the same generated orders (spend, counts, windows, first and last order, days
since), so two rules that mean the same thing select the same customers even when written differently
(`orders_30d >= 1` and `last_order_at within last 30 days`: at most 30 whole days ago). Amounts are multiples
of 250 and counts
are small, so thresholds like "over ₹10K" and "at least 3" land on real values and `>` differs from `>=`.
Some customers lack a city, so "not in Pune" (only those with another city) differs from "excluding Pune".
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

from engine.ai.rules import EMPTY_EVENTS
from engine.features.catalog import Catalog, base_catalog
from engine.features.windows import earliest_within

NOW = datetime(2026, 3, 18, 9, 30, tzinfo=UTC)  # mid-month and mid-day, so calendar words and whole days matter
CITIES = ("Mumbai", "Delhi", "Bengaluru", "Pune", "Chennai", "Hyderabad", "Kolkata", "Jaipur", "London", None)
COUNTRIES = {"London": "GB"}
EVENTS = ("Email Opened", "Added To Cart", "Product Viewed", "App Opened", "Email Link Clicked")
NAMES = ("Aarav", "Diya", "Vihaan", "Ananya", "Arjun", "Meera", "Rohan", "Priya", "Kabir", "Zoya", None)


@dataclass(frozen=True)
class Snapshot:
    features: pl.DataFrame
    events: pl.DataFrame
    catalog: Catalog
    now: datetime = NOW


def synthetic_snapshot(customers: int = 3_000, seed: int = 1) -> Snapshot:
    rng = random.Random(seed)
    catalog = base_catalog()
    rows, events = [], []
    for customer_id in range(1, customers + 1):
        signed_up = NOW - timedelta(days=rng.uniform(0, 900))
        orders = sorted(signed_up + (NOW - signed_up) * rng.random() for _ in range(min(int(rng.expovariate(0.4)), 12)))
        amounts = [rng.randint(1, 40) * 250 for _ in orders]
        city = rng.choice(CITIES)
        rows.append(
            {
                "customer_id": customer_id,
                "external_id": f"cus_{customer_id:05d}",
                "email": None if rng.random() < 0.05 else f"c{customer_id}@example.com",
                "phone": None if rng.random() < 0.3 else f"+9198{customer_id:08d}",
                "first_name": rng.choice(NAMES),
                "last_name": None,
                "city": city,
                "country": None if city is None else COUNTRIES.get(city, "IN"),
                "timezone": "Asia/Kolkata",
                "signed_up_at": signed_up,
                "signup_age_days": (NOW - signed_up).days,
                "email_consent": rng.random() < 0.8,
                "sms_consent": rng.random() < 0.55,
                **_order_features(orders, amounts),
            }
        )
        for _ in range(rng.randint(0, 6)):
            events.append(
                {
                    "customer_id": customer_id,
                    "name": rng.choice(EVENTS),
                    "occurred_at": NOW - timedelta(days=rng.uniform(0, 200)),
                    "properties": json.dumps({"sku": rng.choice(("KURTA-01", "SAREE-07", "TEE-M"))}),
                }
            )
    features = pl.DataFrame(rows, schema=catalog.polars_schema())
    return Snapshot(features, pl.DataFrame(events, schema=EMPTY_EVENTS), catalog)


def _order_features(orders: list[datetime], amounts: list[int]) -> dict[str, object]:
    features: dict[str, object] = {
        "total_spend": float(sum(amounts)),
        "order_count": len(orders),
        "average_order_value": sum(amounts) / len(orders) if orders else None,
        "first_order_at": orders[0] if orders else None,
        "last_order_at": orders[-1] if orders else None,
        "days_since_last_order": (NOW - orders[-1]).days if orders else None,
    }
    for days in (30, 90, 365):
        since = earliest_within(NOW, days)
        recent = [amount for moment, amount in zip(orders, amounts, strict=True) if moment >= since]
        features[f"orders_{days}d"] = len(recent)
        features[f"spend_{days}d"] = float(sum(recent))
    return features
