"""How the API tells who of an audience will actually receive a campaign (segment and campaign previews): the
engine's `audience_reach`, the one the launch filters by, as an answer (`snapshot_reach` for the segment builder,
which asks on every edit about rows of the snapshot it holds)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from engine.campaigns.reach import Reach, audience_reach, snapshot_reach
from engine.channels import get_channel
from engine.settings import get_settings


class ReachOut(BaseModel):
    """Of the audience, how many a campaign on `channel` launched now would message (`receiving`, `held` of them
    until the quiet hours end), and how many it would skip, by reason (consent, address, frequency cap,
    suppression), most first."""

    channel: str
    audience: int
    receiving: int
    held: int = Field(description="Receiving once the quiet hours end where they live.")
    skipped: dict[str, int]


def reach_out(db: Engine, members: pl.DataFrame, channel: str, topic: str | None = None) -> ReachOut:
    with db.connect() as conn:
        reach = audience_reach(conn, members, get_channel(channel), get_settings(), datetime.now(UTC), topic=topic)
    return _out(channel, reach)


def snapshot_reach_out(db: Engine, features: pl.DataFrame, members: pl.Series, channel: str) -> ReachOut:
    """`reach_out` of the rows of the snapshot's `features` that `members` marks."""
    with db.connect() as conn:
        reach = snapshot_reach(conn, features, members, get_channel(channel), get_settings(), datetime.now(UTC))
    return _out(channel, reach)


def _out(channel: str, reach: Reach) -> ReachOut:
    return ReachOut(channel=channel, **vars(reach))
