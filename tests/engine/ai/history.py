"""Campaign histories for the insight and send-time tests: launched campaigns and their communication-log
rows, written straight to Postgres (as launch, the senders and the receipts would leave them), a feature
snapshot of their customers, and the check that an insight's numbers are those of the facts it cites."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import polars as pl
from sqlalchemy import Engine, insert, text

from engine.ai.rules import EMPTY_EVENTS
from engine.auth.roles import Role
from engine.auth.users import record_sign_in
from engine.campaigns.failures import failure_kind
from engine.features.snapshot import publish_snapshot
from engine.schema.campaigns import communication_log
from tests.engine.campaigns.helpers import EVERYONE, OFFER, features

SENT_AT = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
KOLKATA = ZoneInfo("Asia/Kolkata")


@dataclass(frozen=True)
class Message:
    """One recipient's row: its final status, the reason for a failure or skip, and when it was sent."""

    customer_id: int
    status: str
    reason: str | None = None
    sent_at: datetime | None = SENT_AT


def a_user(db: Engine, email: str = "marketer@shop.example") -> int:
    with db.begin() as conn:
        return record_sign_in(conn, email, "Marketer", Role.marketer).id


def launched_campaign(
    db: Engine,
    *,
    created_by: int | None = None,
    status: str = "completed",
    channel: str = "sms",
    rule: Any = EVERYONE,
    snapshot_version: str | None = None,
) -> int:
    """A campaign as launch leaves it (frozen rule, snapshot version), in `status`."""
    with db.begin() as conn:
        return int(
            conn.execute(
                text(
                    "INSERT INTO campaigns (name, channel, template, audience_rule, frozen_rule, snapshot_version, "
                    "status, launched_at, created_by) VALUES ('Diwali offer', :channel, :template, "
                    "CAST(:rule AS jsonb), CAST(:rule AS jsonb), :version, :status, :at, :created_by) RETURNING id"
                ),
                {
                    "channel": channel,
                    "template": OFFER,
                    "rule": orjson.dumps(rule).decode(),
                    "version": snapshot_version,
                    "status": status,
                    "at": SENT_AT,
                    "created_by": created_by,
                },
            ).scalar_one()
        )


def draft_campaign(db: Engine, rule: Any = EVERYONE, segment_id: int | None = None) -> int:
    """A campaign not launched yet (no frozen rule, no messages) for an inline rule, or for a saved segment."""
    with db.begin() as conn:
        return int(
            conn.execute(
                text(
                    "INSERT INTO campaigns (name, channel, template, segment_id, audience_rule) "
                    "VALUES ('Next sale', 'sms', :template, :segment_id, CAST(:rule AS jsonb)) RETURNING id"
                ),
                {
                    "template": OFFER,
                    "segment_id": segment_id,
                    "rule": None if segment_id is not None else orjson.dumps(rule).decode(),
                },
            ).scalar_one()
        )


def log_messages(db: Engine, campaign_id: int, messages: Iterable[Message], channel: str = "sms") -> None:
    rows = [
        {
            "campaign_id": campaign_id,
            "customer_id": message.customer_id,
            "channel": channel,
            "status": message.status,
            "reason": message.reason,
            "failure_kind": failure_kind(message.reason) if message.status == "failed" else None,
            "idempotency_key": f"c{campaign_id}-{message.customer_id}",
            "sent_at": message.sent_at if message.status in ("sent", "delivered", "failed") else None,
            "delivered_at": message.sent_at if message.status == "delivered" else None,
            "failed_at": message.sent_at if message.status == "failed" else None,
            "created_at": message.sent_at or SENT_AT,  # launched when sent, whatever today's date is
        }
        for message in messages
    ]
    with db.begin() as conn:
        conn.execute(insert(communication_log), rows)


def outcomes(
    customer_ids: Iterable[int], delivered: int, reason: str = "number unreachable", sent_at: datetime = SENT_AT
) -> list[Message]:
    """The first `delivered` of the customers delivered, the rest failed with `reason`."""
    return [
        Message(customer_id, "delivered", None, sent_at) if index < delivered
        else Message(customer_id, "failed", reason, sent_at)
        for index, customer_id in enumerate(customer_ids)
    ]  # fmt: skip


def kolkata_time(hour: int) -> datetime:
    """`hour`:15 Kolkata time on the day of `SENT_AT`, in UTC."""
    return SENT_AT.astimezone(KOLKATA).replace(hour=hour, minute=15).astimezone(UTC)


def sent_at_local_hour(
    database: Engine, hour: int, delivered: int, customers: range = range(1, 51), channel: str = "sms"
) -> int:
    """A finished campaign sent to `customers` at `hour`:15 Kolkata time, its first `delivered` messages
    delivered (the rest failed); its id."""
    campaign_id = launched_campaign(database, channel=channel)
    log_messages(database, campaign_id, outcomes(customers, delivered, sent_at=kolkata_time(hour)), channel)
    return campaign_id


UNREACHABLE = "number unreachable"
REJECTED = "carrier rejected (error 30007)"
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def customers() -> pl.DataFrame:
    """430 customers in India: 1-100 spent ₹15,000, 101-300 ₹5,000, 301-430 ₹500; cities and recency mixed."""
    ids = range(1, 431)
    return features(
        430,
        total_spend=[15_000.0 if n <= 100 else 5_000.0 if n <= 300 else 500.0 for n in ids],
        city=["Mumbai" if n % 2 else "Delhi" for n in ids],
        days_since_last_order=[(10, 60, 200)[n % 3] for n in ids],
        country="IN",
    )


def publish_customers(database: Engine, folder: Path) -> str:
    """`customers()` published as a feature snapshot with its files in `folder`; its version."""
    events = pl.DataFrame(schema=EMPTY_EVENTS)
    info = publish_snapshot(database, folder, customers(), events, taken_at=SENT_AT, source_totals={})
    return str(info.version)


def campaign_with_history(database: Engine, snapshot_version: str | None = None) -> tuple[int, int]:
    """The campaign (id, creator): the high spenders 95% delivered, the middle 90%, the low 60% (their failures
    rejected by the carrier, the others' unreachable); 20 skipped for consent, 10 still awaiting receipts.
    The creator's other finished campaigns: SMS 90%, e-mail 100%."""
    creator = a_user(database)
    campaign_id = launched_campaign(database, created_by=creator, snapshot_version=snapshot_version)
    log_messages(
        database,
        campaign_id,
        [
            *outcomes(range(1, 101), delivered=95),
            *outcomes(range(101, 301), delivered=180),
            *outcomes(range(301, 401), delivered=60, reason=REJECTED),
            *(Message(n, "skipped", "no consent to SMS") for n in range(401, 421)),
            *(Message(n, "sent") for n in range(421, 431)),
        ],
    )
    log_messages(database, launched_campaign(database, created_by=creator), outcomes(range(1, 101), delivered=90))
    email = launched_campaign(database, created_by=creator, channel="email")
    log_messages(database, email, outcomes(range(1, 51), delivered=50), channel="email")
    still_sending = launched_campaign(database, created_by=creator, status="sending")
    log_messages(database, still_sending, outcomes(range(1, 101), delivered=10))
    someone_else = launched_campaign(database, created_by=a_user(database, "other@shop.example"))
    log_messages(database, someone_else, outcomes(range(1, 101), delivered=10))
    return campaign_id, creator


def numbers(text: str) -> list[str]:
    return [number.replace(",", "") for number in NUMBER.findall(text)]


def assert_every_number_is_a_cited_fact(output: Mapping[str, Any]) -> None:
    """Each number in each insight of `output` (an insights job's result) is printed by a fact the insight
    cites (one of its values or its label)."""
    printed = {fact["id"]: fact["printed"] for fact in output["facts"]}
    assert output["insights"]
    for insight in output["insights"]:
        assert insight["fact_ids"], insight["text"]
        allowed = {number for fact_id in insight["fact_ids"] for value in printed[fact_id].values()
                   for number in numbers(value)}  # fmt: skip
        assert set(numbers(insight["text"])) <= allowed, insight["text"]
