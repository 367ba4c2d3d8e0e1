"""Who of an audience a campaign will actually reach: the one place the launch and every preview ask.

`contact_plan` runs the contact policy (consent, address, frequency caps, quiet hours) and the suppression list
(suppressed addresses, customers who left the topic) over the audience's feature rows; the launch writes its log
from that plan, so what a preview counts with `reach_of` is what a launch at the same moment does (bar messages
that then fail to render, which only the launch renders for everyone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl
from sqlalchemy import Connection

from engine.campaigns.policy import apply_contact_policy, recent_message_counts
from engine.channels import Channel
from engine.consent.suppression import skip_suppressed
from engine.settings import Settings


def contact_plan(
    conn: Connection,
    members: pl.DataFrame,
    channel: Channel,
    settings: Settings,
    now: datetime,
    *,
    topic: str | None = None,
    excluding_campaign: int | None = None,
) -> pl.DataFrame:
    """One row per member (`customer_id`, `address`, `status` queued/pending/skipped, `reason`, `not_before`), as
    a launch at `now` would log them; `excluding_campaign`'s own messages do not count toward the caps."""
    since = now - timedelta(days=settings.frequency_cap_days)
    recent = recent_message_counts(conn, since, channel, excluding_campaign=excluding_campaign)
    plan = apply_contact_policy(members, channel, recent, settings, now)
    return skip_suppressed(conn, plan, channel.name, topic)


@dataclass(frozen=True)
class Reach:
    """How an audience fares: `receiving` now or later, `held` of them until quiet hours end, and the others
    `skipped`, by reason, most first."""

    audience: int
    receiving: int
    held: int
    skipped: dict[str, int]


def reach_of(plan: pl.DataFrame) -> Reach:
    """Count a `contact_plan`."""
    statuses = dict(plan.group_by("status").len().iter_rows())
    reasons = (
        plan.filter(pl.col("status") == "skipped")
        .group_by("reason")
        .len()
        .sort(["len", "reason"], descending=[True, False])
    )
    return Reach(
        audience=plan.height,
        receiving=statuses.get("queued", 0) + statuses.get("pending", 0),
        held=statuses.get("pending", 0),
        skipped=dict(reasons.iter_rows()),
    )


def audience_reach(
    conn: Connection,
    members: pl.DataFrame,
    channel: Channel,
    settings: Settings,
    now: datetime,
    *,
    topic: str | None = None,
) -> Reach:
    """How many of `members` a campaign on `channel` launched at `now` would message, and why the others not."""
    return reach_of(contact_plan(conn, members, channel, settings, now, topic=topic))
