"""Campaign histories for the insight and send-time tests: launched campaigns and their communication-log
rows, written straight to Postgres (as launch, the senders and the receipts would leave them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import Engine, insert, text

from engine.auth.roles import Role
from engine.auth.users import record_sign_in
from engine.schema.campaigns import communication_log
from tests.engine.campaigns.helpers import EVERYONE, OFFER

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
