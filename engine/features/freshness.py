"""Whether the published features are behind the data they are computed from.

Every transaction that writes customers, orders or events counts itself in `feature_source_changes` just before
it commits (`count_source_change`); a materialization reads the count in the same REPEATABLE READ transaction as
its data and keeps it with the snapshot. While the count is higher than the newest snapshot's, the features are
behind: the pipelines ask for a refresh until a snapshot has caught up, whether the last one failed, died or
never ran, so new customers become segmentable without waiting for the hourly refresh.

The same transaction also queues the customers it touched (`record_touched_customers`), whose features a delta
recomputes within seconds (`engine.features.deltas`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, text

COUNT_CHANGE = """
INSERT INTO feature_source_changes (id, changes, changed_at) VALUES (1, 1, now())
ON CONFLICT (id) DO UPDATE SET changes = feature_source_changes.changes + 1, changed_at = now()
"""
# Every customer a staged batch names (new ones were inserted before this runs), and the customer each staged
# order belonged to before it is upserted (an order moved to another customer changes both). Customers only its
# events name are queued as such: their feature row stands, and a delta re-reads just their events.
RECORD_TOUCHED = """
INSERT INTO feature_touched_customers (customer_id, events_only)
SELECT c.id, false FROM customers c JOIN (
    SELECT external_id FROM stage_customers
    UNION SELECT customer_external_id FROM stage_orders
) AS staged ON c.external_id = staged.external_id
UNION SELECT o.customer_id, false FROM orders o JOIN stage_orders s ON o.external_id = s.external_id
UNION SELECT c.id, true FROM customers c JOIN (
    SELECT DISTINCT customer_external_id AS external_id FROM stage_events WHERE customer_external_id IS NOT NULL
) AS named ON c.external_id = named.external_id
"""
# The count as of the reader's transaction (0 before the first change).
CHANGES_QUERY = "SELECT coalesce((SELECT changes FROM feature_source_changes WHERE id = 1), 0)"
LAG_QUERY = f"""
SELECT ({CHANGES_QUERY}) AS changes,
       (SELECT changed_at FROM feature_source_changes WHERE id = 1) AS changed_at,
       newest.source_changes AS snapshot_changes, newest.created_at AS published_at,
       (SELECT min(queued_at) FROM feature_touched_customers) AS oldest_queued_at
FROM (SELECT 1) AS one
LEFT JOIN (SELECT source_changes, created_at FROM feature_snapshots ORDER BY version DESC LIMIT 1) AS newest ON true
"""


def count_source_change(conn: Connection) -> None:
    """Count one change to the feature sources, in the caller's transaction (as late in it as possible: the
    row is locked until the commit)."""
    conn.execute(text(COUNT_CHANGE))


def record_touched_customers(conn: Connection) -> None:
    """Queue the customers of the batch staged in the caller's ingest transaction for a delta. Called after new
    customers are inserted and before orders are upserted (see `RECORD_TOUCHED`)."""
    conn.execute(text(RECORD_TOUCHED))


@dataclass(frozen=True)
class FeatureLag:
    """How far the newest snapshot is behind: the changes counted now, and those it read (None: it predates
    counting, or there is no snapshot yet)."""

    changes: int
    snapshot_changes: int | None
    changed_at: datetime | None
    published_at: datetime | None  # when the newest snapshot was published (None: there is none)
    oldest_queued_at: datetime | None = None  # the change waiting longest for a delta (None: deltas caught up)


def features_lag(db: Engine) -> FeatureLag | None:
    """How far the features are behind the sources; None when the newest snapshot has read every change (or
    nothing has ever been ingested and there is no snapshot to refresh)."""
    with db.connect() as conn:
        row = conn.execute(text(LAG_QUERY)).one()
    if row.changes == 0 and row.published_at is None:
        return None
    if row.snapshot_changes is not None and row.snapshot_changes >= row.changes:
        return None
    return FeatureLag(int(row.changes), row.snapshot_changes, row.changed_at, row.published_at, row.oldest_queued_at)


CURRENT_QUERY = f"""
SELECT ({CHANGES_QUERY}) <= greatest(
           (SELECT source_changes FROM feature_snapshots ORDER BY version DESC LIMIT 1),
           CASE WHEN NOT EXISTS (SELECT 1 FROM feature_touched_customers)
                THEN (SELECT max(source_changes) FROM feature_deltas) END
       )
"""


def features_current(db: Engine) -> bool:
    """Whether what segments are answered from (the newest snapshot with its deltas) has read every change counted:
    the snapshot read them all, or no customer waits for a delta and the newest delta read them all."""
    with db.connect() as conn:
        return bool(conn.scalar(text(CURRENT_QUERY)))
