"""Hand-made customers, orders and events written through the real tables, for the feature tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from sqlalchemy import Engine, insert

from engine.schema import customers, events, orders

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
