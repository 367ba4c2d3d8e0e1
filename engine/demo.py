"""Realistic demo data, generated from a seed and posted through the public ingestion API.

Customers with names, e-mails, phones, cities and signup dates over two years; orders with amounts,
currencies, items and dates after signup; and behavioural events (views, carts, e-mail opens). Going
through the API means the demo exercises what an integrator would: validation, the stream, the consumer.
The demo is loaded once per database: its write key is kept in the data folder and reused, and customers already
there are not posted again.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text

from engine.keys import create_key, verify_key

FIRST_NAMES = (
    "Aarav", "Vivaan", "Aditya", "Vihaan", "Arjun", "Sai", "Reyansh", "Ayaan", "Krishna", "Ishaan", "Ananya",
    "Diya", "Aadhya", "Saanvi", "Pari", "Myra", "Anika", "Navya", "Kiara", "Meera", "Rohan", "Priya", "Neha",
    "Rahul", "Sneha", "Karan", "Pooja", "Vikram", "Lakshmi", "Farhan", "Zoya", "Imran", "Sara", "John", "Maria",
)  # fmt: skip
LAST_NAMES = (
    "Sharma", "Verma", "Gupta", "Iyer", "Nair", "Reddy", "Patel", "Shah", "Mehta", "Singh", "Kaur", "Khan",
    "Das", "Bose", "Chatterjee", "Menon", "Pillai", "Rao", "Joshi", "Kulkarni", "Deshpande", "Agarwal", "Jain",
)  # fmt: skip
CITIES = (
    ("Mumbai", 0.16), ("Delhi", 0.15), ("Bengaluru", 0.14), ("Hyderabad", 0.1), ("Chennai", 0.09),
    ("Kolkata", 0.08), ("Pune", 0.08), ("Ahmedabad", 0.06), ("Jaipur", 0.05), ("Lucknow", 0.04),
    ("Kochi", 0.03), ("Indore", 0.02),
)  # fmt: skip
PRODUCTS = (
    ("KURTA-01", "Cotton kurta", 1299), ("SAREE-07", "Silk saree", 5499), ("JEANS-32", "Slim jeans", 1999),
    ("TEE-M", "Graphic tee", 599), ("SNEAK-9", "Running sneakers", 3499), ("BAG-TOTE", "Canvas tote", 899),
    ("WATCH-S", "Steel watch", 7999), ("SCARF-W", "Wool scarf", 1499), ("MUG-2", "Ceramic mugs, pair", 499),
)  # fmt: skip
EVENTS = (("Product Viewed", 0.55), ("Added To Cart", 0.2), ("Email Opened", 0.15), ("App Opened", 0.1))
BATCH = 500
KEY_NAME = "demo data"
# The demo's external ids all start with "demo-": a range of the unique index on external_id.
DEMO_CUSTOMERS_QUERY = "SELECT count(*) FROM customers WHERE external_id >= 'demo-' AND external_id < 'demo.'"


@dataclass(frozen=True)
class DemoPlan:
    customers: int
    seed: int = 7
    now: datetime = datetime(2026, 11, 25, tzinfo=UTC)


def _customer(rng: random.Random, n: int, now: datetime) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    city = rng.choices([c for c, _ in CITIES], weights=[w for _, w in CITIES])[0]
    signed_up = now - timedelta(days=rng.uniform(0, 730))
    return {
        "external_id": f"demo-{n:08d}",
        "email": f"{first}.{last}.{n}@example.com".lower(),
        "phone": f"+91 9{rng.randrange(10**8, 10**9):09d}",
        "first_name": first,
        "last_name": last,
        "city": city,
        "country": "IN",
        "timezone": "Asia/Kolkata",
        "signed_up_at": signed_up.isoformat(),
        "email_consent": rng.random() < 0.85,
        "sms_consent": rng.random() < 0.6,
        "attributes": {"loyalty_tier": rng.choice(["bronze", "silver", "gold"]), "age": rng.randint(18, 70)},
        "updated_at": signed_up.isoformat(),
    }


def _orders(rng: random.Random, customer: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    signed_up = datetime.fromisoformat(customer["signed_up_at"])
    orders = []
    for k in range(min(int(rng.expovariate(1 / 2.5)), 30)):
        lines = rng.sample(PRODUCTS, rng.randint(1, 3))
        items: list[dict[str, Any]] = [{"sku": sku, "name": name, "quantity": rng.randint(1, 2), "price": f"{price}.00"}
                 for sku, name, price in lines]  # fmt: skip
        amount = sum(int(item["quantity"]) * float(item["price"]) for item in items)
        ordered_at = signed_up + (now - signed_up) * rng.random()
        orders.append({
            "external_id": f"{customer['external_id']}-o{k}",
            "customer_external_id": customer["external_id"],
            "amount": f"{amount:.2f}",
            "currency": "INR",
            "items": items,
            "ordered_at": ordered_at.isoformat(),
        })  # fmt: skip
    return orders


def _events(rng: random.Random, customer: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    names = [e for e, _ in EVENTS]
    weights = [w for _, w in EVENTS]
    events = []
    for _ in range(rng.randint(0, 4)):
        sku, product, _price = rng.choice(PRODUCTS)
        events.append({
            "type": "track",
            "userId": customer["external_id"],
            "event": rng.choices(names, weights=weights)[0],
            "properties": {"sku": sku, "product": product},
            "timestamp": (now - timedelta(days=rng.uniform(0, 120))).isoformat(),
            "messageId": str(uuid.UUID(int=rng.getrandbits(128))),
        })  # fmt: skip
    return events


def generate(plan: DemoPlan) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(endpoint, batch) pairs: customers first in each block, then their orders and events."""
    rng = random.Random(plan.seed)
    for start in range(0, plan.customers, BATCH):
        customers = [_customer(rng, n, plan.now) for n in range(start, min(start + BATCH, plan.customers))]
        orders = [order for c in customers for order in _orders(rng, c, plan.now)]
        events = [event for c in customers for event in _events(rng, c, plan.now)]
        yield "/v1/customers", customers
        for i in range(0, len(orders), BATCH):
            yield "/v1/orders", orders[i : i + BATCH]
        for i in range(0, len(events), BATCH):
            yield "/v1/batch", events[i : i + BATCH]


def post_demo_data(
    api_url: str, write_key: str, plan: DemoPlan, on_progress: Callable[[int], None], concurrency: int = 4
) -> int:
    """Post the plan's data to the API; `on_progress` gets the number of customers done after each block."""
    posted = 0

    with httpx.Client(base_url=api_url, auth=(write_key, ""), timeout=60) as client:

        def send(item: tuple[str, list[dict[str, Any]]]) -> int:
            path, batch = item
            body = {"batch": batch} if path == "/v1/batch" else batch
            response = client.post(path, json=body)
            response.raise_for_status()
            return len(batch) if path == "/v1/customers" else 0

        with ThreadPoolExecutor(concurrency) as pool:
            for done in pool.map(send, generate(plan)):
                if done:
                    posted += done
                    on_progress(done)
    return posted


def demo_customers_loaded(db: Engine) -> int:
    """How many demo customers the database holds."""
    with db.connect() as conn:
        return int(conn.execute(text(DEMO_CUSTOMERS_QUERY)).scalar_one())


def demo_write_key(db: Engine, data_dir: Path) -> str:
    """The write key the demo posts with: the one kept in the data folder while the database still accepts it,
    else a new "demo data" key, kept there (readable by us only) for the next time."""
    kept = data_dir / "demo_write_key"
    if kept.exists() and verify_key(db, kept.read_text().strip()) is not None:
        return kept.read_text().strip()
    secret = create_key(db, KEY_NAME).secret
    data_dir.mkdir(parents=True, exist_ok=True)
    kept.write_text(secret)
    kept.chmod(0o600)
    return secret
