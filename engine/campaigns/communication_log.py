"""Reading a campaign's communication log: its messages a page at a time with filters, and its statuses
over time. Marketers use these to see who got what and why a message failed or was skipped; the
dashboard's History page draws them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, text

MESSAGE_FIELDS = (
    "id", "customer_id", "channel", "address", "message", "subject", "status", "reason", "vendor_message_id",
    "attempts", "created_at", "queued_at", "sent_at", "delivered_at", "failed_at",
)  # fmt: skip


@dataclass(frozen=True)
class LoggedMessage:
    """One recipient's row of the log, with the time of each step it took."""

    id: int
    customer_id: int
    channel: str
    address: str | None
    message: str | None
    subject: str | None
    status: str
    reason: str | None
    vendor_message_id: str | None
    attempts: int
    created_at: datetime
    queued_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None


@dataclass(frozen=True)
class MessageFilter:
    """Which rows to list; `reason` matches a part of the reason, ignoring case."""

    status: str | None = None
    customer_id: int | None = None
    reason: str | None = None


def list_messages(
    db: Engine, campaign_id: int, where: MessageFilter, *, after_id: int = 0, limit: int = 100
) -> list[LoggedMessage]:
    """The campaign's messages matching `where`, in log order, after the row `after_id`."""
    with db.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT {', '.join(MESSAGE_FIELDS)} FROM communication_log "
                "WHERE campaign_id = :campaign_id AND id > :after_id "
                "AND (CAST(:status AS text) IS NULL OR status = :status) "
                "AND (CAST(:customer_id AS bigint) IS NULL OR customer_id = :customer_id) "
                "AND (CAST(:reason AS text) IS NULL OR reason ILIKE '%' || :reason || '%' ESCAPE '\\') "
                "ORDER BY id LIMIT :limit"
            ),
            {
                "campaign_id": campaign_id,
                "after_id": after_id,
                "status": where.status,
                "customer_id": where.customer_id,
                "reason": None if where.reason is None else _literally(where.reason),
                "limit": limit,
            },
        ).mappings().all()  # fmt: skip
    return [LoggedMessage(**row) for row in rows]


def _literally(words: str) -> str:
    """`words` for a LIKE pattern, its wildcards matching themselves."""
    return words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class TimelinePoint:
    """How many messages were sent, delivered and failed in the bucket starting at `at`."""

    at: datetime
    sent: int
    delivered: int
    failed: int


STATUS_TIMELINE = """
SELECT to_timestamp(floor(extract(epoch FROM step.at) / :bucket_s) * :bucket_s) AS bucket,
       count(*) FILTER (WHERE step.status = 'sent') AS sent,
       count(*) FILTER (WHERE step.status = 'delivered') AS delivered,
       count(*) FILTER (WHERE step.status = 'failed') AS failed
FROM communication_log l
CROSS JOIN LATERAL (VALUES ('sent', l.sent_at), ('delivered', l.delivered_at), ('failed', l.failed_at))
    AS step (status, at)
WHERE l.campaign_id = :campaign_id AND step.at IS NOT NULL
GROUP BY bucket ORDER BY bucket
"""


def status_timeline(db: Engine, campaign_id: int, bucket_s: int) -> list[TimelinePoint]:
    """Messages sent, delivered and failed per `bucket_s` seconds, oldest first; empty buckets are left out."""
    with db.connect() as conn:
        rows = conn.execute(text(STATUS_TIMELINE), {"campaign_id": campaign_id, "bucket_s": bucket_s}).all()
    return [TimelinePoint(at, int(sent), int(delivered), int(failed)) for at, sent, delivered, failed in rows]
