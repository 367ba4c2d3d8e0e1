"""What the insights read from Postgres, in bulk and straight into Polars: a campaign's log, its creator's
other finished campaigns, past delivery outcomes, and the customer features of a published snapshot.

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
from engine.features.sources import parse_utc, read_transaction

OUTCOMES_SCHEMA = pl.Schema({"customer_id": pl.Int64(), "status": pl.String(), "sent_at": pl.String()})


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


def delivery_outcomes(db: Engine, since: datetime) -> pl.DataFrame:
    """Every message sent since `since` whose outcome is known: customer_id, status (delivered or failed), sent_at."""
    with read_transaction(db) as reader:
        rows = reader.frame(
            "SELECT customer_id, status, sent_at FROM communication_log "
            "WHERE status IN ('delivered', 'failed') AND sent_at >= %(since)s",
            OUTCOMES_SCHEMA,
            {"since": since},
        )
    return rows.with_columns(parse_utc("sent_at"))


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
