"""Customers who were sent campaigns: Ada and Bob got the e-mail campaign "Diwali offer" at `SENT`, Ada the SMS
campaign "Follow-up" a day later; `Sent` names their communication-log rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text

SENT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Sent:
    """The ids of the customers, campaigns and messages."""

    ada: int
    bob: int
    diwali: int
    follow_up: int
    diwali_to_ada: int
    diwali_to_bob: int
    follow_up_to_ada: int


def _one(engine: Engine, sql: str, **values: object) -> int:
    with engine.begin() as conn:
        return int(conn.execute(text(sql + " RETURNING id"), values).scalar_one())


def add_campaign(engine: Engine, name: str, channel: str) -> int:
    """A completed campaign, made a week before `SENT` and finished a week after."""
    return _one(
        engine,
        "INSERT INTO campaigns (name, channel, template, subject, status, audience_rule, created_at, completed_at) "
        "VALUES (:name, :channel, 'Hi', 'Hi', 'completed', '{}'::jsonb, :created_at, :completed_at)",
        name=name,
        channel=channel,
        created_at=SENT - timedelta(days=7),
        completed_at=SENT + timedelta(days=7),
    )


def add_message(
    engine: Engine, campaign_id: int, customer_id: int, sent_at: datetime, status: str = "delivered"
) -> int:
    return _one(
        engine,
        "INSERT INTO communication_log (campaign_id, customer_id, channel, address, message, status, "
        "idempotency_key, sent_at) SELECT :campaign, :customer, c.channel, cu.email, 'Hi', :status, "
        "gen_random_uuid()::text, :sent_at FROM campaigns c, customers cu WHERE c.id = :campaign AND cu.id = :customer",
        campaign=campaign_id,
        customer=customer_id,
        status=status,
        sent_at=sent_at,
    )


def add_order(
    engine: Engine, customer_id: int, external_id: str, amount: str, at: datetime, status: str = "completed"
) -> None:
    _one(
        engine,
        "INSERT INTO orders (external_id, customer_id, amount, currency, status, ordered_at) "
        "VALUES (:external_id, :customer, :amount, 'INR', :status, :at)",
        external_id=external_id,
        customer=customer_id,
        amount=Decimal(amount),
        status=status,
        at=at,
    )


@pytest.fixture
def sent(database: Engine) -> Sent:
    ada = _one(database, "INSERT INTO customers (external_id, email) VALUES ('ada', 'ada@shop.example')")
    bob = _one(database, "INSERT INTO customers (external_id, email) VALUES ('bob', 'bob@shop.example')")
    diwali, follow_up = add_campaign(database, "Diwali offer", "email"), add_campaign(database, "Follow-up", "sms")
    return Sent(
        ada=ada,
        bob=bob,
        diwali=diwali,
        follow_up=follow_up,
        diwali_to_ada=add_message(database, diwali, ada, SENT),
        diwali_to_bob=add_message(database, diwali, bob, SENT),
        follow_up_to_ada=add_message(database, follow_up, ada, SENT + timedelta(days=1)),
    )
