"""What "within the last N days" means, in one place for the feature windows and the rule language alike.

A moment is within the last N days when it is at most N whole days before "now", whole days being
floor((now - t) / 24h) as in `days_since_last_order` and `signup_age_days`. So a last order 30.4 days ago
(30 whole days) is within the last 30 days and counts in `orders_30d`; "more than N days ago" is the
opposite, more than N whole days.
"""

from __future__ import annotations

from datetime import datetime, timedelta

TICK = timedelta(microseconds=1)  # the finest time every backend keeps (Polars, DuckDB and Postgres alike)


def earliest_within(now: datetime, days: int) -> datetime:
    """The earliest moment at most `days` whole days before `now`: one tick after `days + 1` full days before."""
    return now - timedelta(days=days + 1) + TICK
