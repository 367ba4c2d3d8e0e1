"""Building blocks for notification tests: campaigns that reached an end, and the kinds users see."""

from __future__ import annotations

from datetime import timedelta

import redis
from sqlalchemy import Engine, text

from engine.auth.users import User
from engine.campaigns.progress import complete_finished_campaigns
from engine.notifications.store import list_for_user
from engine.settings import Settings
from tests.engine.campaigns.helpers import NOON, delivery_settings, features, launch

AFTER = NOON + timedelta(minutes=5)  # when the scans run


def sending_campaign(
    db: Engine, client: redis.Redis, *, delivered: int, failed: int, pending: int = 0, created_by: int | None = None
) -> int:
    """A launched campaign whose first `failed` messages failed, the next `delivered` were delivered and the
    rest are still queued."""
    report = launch(db, client, delivery_settings(), features(failed + delivered + pending))
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE communication_log SET status = CASE WHEN customer_id <= :failed THEN 'failed' "
                "ELSE 'delivered' END, reason = CASE WHEN customer_id <= :failed THEN 'unreachable' END "
                "WHERE campaign_id = :id AND customer_id <= :final"
            ),
            {"id": report.campaign_id, "failed": failed, "final": failed + delivered},
        )
        conn.execute(text("UPDATE campaigns SET created_by = :user WHERE id = :id"),
                     {"user": created_by, "id": report.campaign_id})  # fmt: skip
    return report.campaign_id


def completed_campaign(db: Engine, client: redis.Redis, settings: Settings, *, delivered: int, failed: int,
                       created_by: int | None = None) -> int:  # fmt: skip
    campaign_id = sending_campaign(db, client, delivered=delivered, failed=failed, created_by=created_by)
    assert complete_finished_campaigns(db, settings, AFTER) == [campaign_id]
    return campaign_id


def kinds_seen(db: Engine, user: User) -> list[str]:
    """The kinds of the user's notifications, newest first."""
    return [notification.kind for notification in list_for_user(db, user)]
