"""What the insights and the send time read from Postgres, in bulk and straight into Polars: a campaign's
log, its creator's other finished campaigns, past delivery outcomes counted per customer and quarter-hour,
a campaign's failed recipients, and the customer features of a published snapshot.

The log reads use COPY through `engine.features.sources` (a large campaign has a million rows); the
features come from the snapshot's Parquet file, only the columns asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import polars as pl
from sqlalchemy import Engine

from engine.ai.insights.facts import LOG_SCHEMA, OTHERS_SCHEMA
from engine.features.snapshot import SnapshotInfo, snapshot_info
from engine.features.sources import FixedWidth, read_transaction

OUTCOME_COLUMNS: dict[str, FixedWidth] = {
    "customer_id": "int8",
    "utc_quarter": "int8",
    "delivered": "int8",
    "failed": "int8",
}


def campaign_log(db: Engine, campaign_id: int) -> pl.DataFrame:
    """The campaign's rows: customer_id, status, reason."""
    with read_transaction(db) as reader:
        return reader.frame(
            "SELECT customer_id, status, reason FROM communication_log WHERE campaign_id = %(id)s",
            LOG_SCHEMA,
            {"id": campaign_id},
        )


def creator_campaigns(db: Engine, campaign_id: int, created_by: int | None) -> pl.DataFrame:
    """Per channel, the creator's other completed campaigns: how many, and their delivered and failed messages."""
    if created_by is None:
        return pl.DataFrame(schema=OTHERS_SCHEMA)
    with read_transaction(db) as reader:
        return reader.frame(
            "SELECT c.channel, count(DISTINCT c.id), count(*) FILTER (WHERE l.status = 'delivered'), "
            "count(*) FILTER (WHERE l.status = 'failed') "
            "FROM campaigns c JOIN communication_log l ON l.campaign_id = c.id "
            "WHERE c.created_by = %(creator)s AND c.id <> %(id)s AND c.status = 'completed' "
            "AND l.status IN ('delivered', 'failed') GROUP BY c.channel",
            OTHERS_SCHEMA,
            {"creator": created_by, "id": campaign_id},
        )


def delivery_outcomes(db: Engine, since: datetime, channel: str) -> pl.DataFrame:
    """Per customer and UTC quarter-hour of the day they were sent at (`utc_quarter`, 0-95), how many of their
    messages on `channel` logged since `since` were delivered and how many failed.

    Postgres does the counting: it reads the log rows created since `since` (the BRIN index on `created_at`
    skips the older pages, so the cost grows with the window's messages, not with the whole log), keeps the
    channel's delivered and failed ones, and sends back one narrow row of four integers (binary COPY, nothing
    parsed) per customer and quarter-hour they were messaged at. That is fewer rows than messages when
    campaigns reach the same customers at the same time of day, and about as many when each customer was
    messaged once in the window: the reply still grows with the window's audience. Quarter-hours, not
    hours, because some time zones are offset from UTC by a half or three quarters of an hour (India's by
    5:30). A message sent after being logged is counted by when it was logged.
    """
    with read_transaction(db) as reader:
        return reader.fixed_width_frame(
            "SELECT customer_id, (date_part('hour', sent_at AT TIME ZONE 'UTC') * 4 "
            "+ floor(date_part('minute', sent_at AT TIME ZONE 'UTC') / 15))::int8, "
            "count(*) FILTER (WHERE status = 'delivered'), count(*) FILTER (WHERE status = 'failed') "
            "FROM communication_log WHERE created_at >= %(since)s AND channel = %(channel)s "
            "AND status IN ('delivered', 'failed') AND sent_at IS NOT NULL GROUP BY 1, 2",
            OUTCOME_COLUMNS,
            {"since": since, "channel": channel},
        )


@dataclass(frozen=True)
class SnapshotFeatures:
    """Some feature columns of one published snapshot, and which snapshot it is."""

    version: int
    features: pl.DataFrame


def snapshot_features(db: Engine, columns: Sequence[str], preferred: str | None = None) -> SnapshotFeatures | None:
    """`columns` (those the snapshot has) of snapshot `preferred` when it is still kept, else of the newest;
    None before any snapshot is published."""
    info: SnapshotInfo | None = None
    if preferred is not None and preferred.isdigit():
        info = snapshot_info(db, int(preferred))
    info = info or snapshot_info(db)
    if info is None:
        return None
    present = [column for column in columns if column in info.columns]
    return SnapshotFeatures(info.version, pl.read_parquet(info.features_path, columns=present))
