"""How the API tells who of an audience will actually receive a campaign (segment and campaign previews): the
engine's `snapshot_reach`, which counts the rows of the snapshot the API holds as the launch's own plan
(`audience_reach`) does, from what it keeps per snapshot, so previews answer at once at a million customers."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from engine.campaigns.reach import snapshot_reach
from engine.channels import get_channel
from engine.settings import get_settings


class ReachOut(BaseModel):
    """Of the audience, how many a campaign on `channel` launched now would message (`receiving`, `held` of them
    until the quiet hours end), and how many it would skip, by reason (consent, address, frequency cap,
    suppression, left the campaign's topic), most first."""

    channel: str
    audience: int
    receiving: int
    held: int = Field(description="Receiving once the quiet hours end where they live.")
    skipped: dict[str, int]


def snapshot_reach_out(
    db: Engine, features: pl.DataFrame, members: pl.Series, channel: str, topic: str | None = None
) -> ReachOut:
    """Of the rows of the snapshot's `features` that `members` marks, who a campaign on `channel` (about `topic`)
    launched now would message."""
    with db.connect() as conn:
        now = datetime.now(UTC)
        reach = snapshot_reach(conn, features, members, get_channel(channel), get_settings(), now, topic=topic)
    return ReachOut(channel=channel, **vars(reach))
