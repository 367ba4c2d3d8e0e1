"""How campaigns are doing, read from the communication log, and when a sending campaign is complete.

Counts are the log's rows by status, counted when asked, so they cannot drift from it. Only a finished
campaign whose messages are all final keeps its counts (`settled_counts`): they can no longer change,
and history then need not count a million rows per campaign on every read. A sending campaign completes
once none of its messages is pending, queued or sent and still awaiting its receipt; a sent message whose
receipt has not come within `receipt_timeout_s` stops holding it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, RowMapping, text

from engine.campaigns.errors import CampaignNotFound
from engine.schema.campaigns import MESSAGE_STATUSES
from engine.settings import Settings


@dataclass(frozen=True)
class MessageCounts:
    """A campaign's messages by status."""

    pending: int = 0
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def total(self) -> int:
        return self.pending + self.queued + self.sent + self.delivered + self.failed + self.skipped

    @property
    def unfinished(self) -> int:
        """Messages not yet at a final status."""
        return self.pending + self.queued + self.sent


@dataclass(frozen=True)
class Campaign:
    """A campaign as stored, with its message counts."""

    id: int
    name: str
    channel: str
    template: str
    subject: str | None
    segment_id: int | None
    audience_rule: Any
    frozen_rule: Any
    snapshot_version: str | None
    audience_size: int | None
    status: str
    failure_reason: str | None
    scheduled_at: datetime | None
    launched_at: datetime | None
    completed_at: datetime | None
    created_by: int | None
    parent_campaign_id: int | None
    created_at: datetime
    updated_at: datetime
    launch_attempts: int = 0  # launch runs of its current scheduling that ended without launching it
    launch_error: str | None = None  # why the last of them did
    topic: str | None = None  # its subscription topic (engine.consent)
    html_template: str | None = None  # e-mail's HTML part's template; None: made from the text
    counts: MessageCounts = field(default_factory=MessageCounts)


CAMPAIGN_COLUMNS = ", ".join(name for name in Campaign.__dataclass_fields__ if name != "counts")
FINAL_STATUSES = frozenset({"completed", "cancelled", "failed"})


def _counted(conn: Connection, campaign_ids: list[int]) -> dict[int, MessageCounts]:
    if not campaign_ids:
        return {}
    rows = conn.execute(
        text(
            "SELECT campaign_id, status, count(*) FROM communication_log "
            "WHERE campaign_id = ANY(:ids) GROUP BY campaign_id, status"
        ),
        {"ids": campaign_ids},
    ).all()
    by_campaign: dict[int, dict[str, int]] = {campaign_id: {} for campaign_id in campaign_ids}
    for campaign_id, status, count in rows:
        if status in MESSAGE_STATUSES:
            by_campaign[campaign_id][status] = count
    return {campaign_id: MessageCounts(**counts) for campaign_id, counts in by_campaign.items()}


def _with_counts(conn: Connection, rows: Sequence[RowMapping]) -> list[Campaign]:
    """The campaigns of `rows`, each with its counts: kept ones as kept, the others counted from the log. A
    finished campaign whose messages are all final keeps its counts from then on (final statuses never
    change, and a finished campaign gets no new messages)."""
    kept = {row["id"]: MessageCounts(**row["settled_counts"]) for row in rows if row["settled_counts"] is not None}
    counted = _counted(conn, [row["id"] for row in rows if row["id"] not in kept])
    statuses = {row["id"]: row["status"] for row in rows}
    settled = [
        {"id": campaign_id, "counts": orjson.dumps(asdict(counts)).decode()}
        for campaign_id, counts in counted.items()
        if statuses[campaign_id] in FINAL_STATUSES and counts.unfinished == 0
    ]
    if settled:
        conn.execute(text("UPDATE campaigns SET settled_counts = CAST(:counts AS jsonb) WHERE id = :id"), settled)
    counts = kept | counted
    return [
        Campaign(**{name: row[name] for name in row if name != "settled_counts"}, counts=counts[row["id"]])
        for row in rows
    ]


def message_counts(db: Engine, campaign_id: int) -> MessageCounts:
    """The campaign's messages by status (all zero before launch)."""
    return get_campaign(db, campaign_id).counts


def get_campaign(db: Engine, campaign_id: int) -> Campaign:
    with db.begin() as conn:
        row = conn.execute(
            text(f"SELECT {CAMPAIGN_COLUMNS}, settled_counts FROM campaigns WHERE id = :id"), {"id": campaign_id}
        ).mappings().one_or_none()  # fmt: skip
        if row is None:
            raise CampaignNotFound(campaign_id)
        return _with_counts(conn, [row])[0]


def list_campaigns(db: Engine, *, limit: int = 50, offset: int = 0, status: str | None = None) -> list[Campaign]:
    """Campaign history, newest first, each with its message counts."""
    with db.begin() as conn:
        rows = conn.execute(
            text(
                f"SELECT {CAMPAIGN_COLUMNS}, settled_counts FROM campaigns "
                "WHERE CAST(:status AS text) IS NULL OR status = :status "
                "ORDER BY created_at DESC, id DESC LIMIT :limit OFFSET :offset"
            ),
            {"status": status, "limit": limit, "offset": offset},
        ).mappings().all()  # fmt: skip
        return _with_counts(conn, rows)


FINISHED_SENDING = """
UPDATE campaigns c SET status = 'completed', completed_at = :now, updated_at = now()
WHERE c.status = 'sending' AND NOT EXISTS (
    SELECT 1 FROM communication_log l
    WHERE l.campaign_id = c.id
      AND (l.status IN ('pending', 'queued') OR (l.status = 'sent' AND l.sent_at > :receipt_deadline))
)
RETURNING c.id
"""


def complete_finished_campaigns(db: Engine, settings: Settings, now: datetime) -> list[int]:
    """Mark sending campaigns whose messages are all final (or past the receipt timeout) completed."""
    with db.begin() as conn:
        deadline = now - timedelta(seconds=settings.receipt_timeout_s)
        return list(conn.execute(text(FINISHED_SENDING), {"now": now, "receipt_deadline": deadline}).scalars())
