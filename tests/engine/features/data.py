"""Hand-made customers, orders and events written through the real tables (or through the ingest stream and its
consumer), for the feature tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import redis
from sqlalchemy import Engine, insert

from engine import streams
from engine.ingest.consumer import drain
from engine.ingest.records import empty_batch
from engine.schema import customers, events, orders
from engine.settings import get_settings

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
_numbers = count(1)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def add_customer(db: Engine, external_id: str, **fields: Any) -> int:
    with db.begin() as conn:
        return int(
            conn.execute(
                insert(customers).values(external_id=external_id, **fields).returning(customers.c.id)
            ).scalar_one()
        )


def add_order(db: Engine, customer_id: int, amount: str, ordered_at: datetime, status: str = "completed") -> None:
    with db.begin() as conn:
        conn.execute(
            insert(orders).values(
                external_id=f"order-{next(_numbers)}",
                customer_id=customer_id,
                amount=Decimal(amount),
                currency="INR",
                status=status,
                ordered_at=ordered_at,
            )
        )


def add_event(
    db: Engine,
    customer_id: int | None,
    name: str | None,
    occurred_at: datetime,
    properties: dict[str, Any] | None = None,
) -> None:
    with db.begin() as conn:
        conn.execute(
            insert(events).values(
                message_id=f"message-{next(_numbers)}",
                customer_id=customer_id,
                anonymous_id=None if customer_id else "anon-1",
                type="track" if name else "identify",
                name=name,
                properties=properties or {},
                occurred_at=occurred_at,
            )
        )


def ingest(db: Engine, client: redis.Redis, **records: list[dict[str, Any]]) -> None:
    """Records through the ingest stream and the consumer, as the API and the ingest job bring them."""
    batch = empty_batch()
    batch.update(records)  # type: ignore[typeddict-item]
    streams.publish(client, get_settings().stream("ingest"), batch)
    assert drain(db, client, get_settings()).entries == 1


def customer(external_id: str, city: str = "Agra", **traits: Any) -> dict[str, Any]:
    return {"external_id": external_id, "city": city, "traits": traits, "ts": NOW.isoformat()}


def order(external_id: str, customer_id: str, amount: str, ordered_at: Any = NOW) -> dict[str, Any]:
    return {
        "external_id": external_id, "customer_external_id": customer_id, "amount": amount, "currency": "INR",
        "status": "completed", "items": [], "ordered_at": ordered_at.isoformat(), "ts": NOW.isoformat(),
    }  # fmt: skip


def event(message_id: str, customer_id: str, name: str) -> dict[str, Any]:
    return {
        "message_id": message_id, "customer_external_id": customer_id, "anonymous_id": None, "type": "track",
        "name": name, "properties": {}, "context": {}, "occurred_at": NOW.isoformat(),
    }  # fmt: skip
