"""Campaign counts: read from the log while anything can still change, kept once a finished campaign's
messages are all final."""

from __future__ import annotations

import redis
from sqlalchemy import Engine, text

from engine.campaigns.progress import get_campaign, list_campaigns
from tests.engine.campaigns.helpers import delivery_settings, features, launch


def _finish(db: Engine, campaign_id: int, *, still_sent: int = 0) -> None:
    """Every message delivered but the first `still_sent` (awaiting a receipt); the campaign completed."""
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE communication_log SET status = CASE WHEN customer_id <= :still_sent THEN 'sent' "
                "ELSE 'delivered' END WHERE campaign_id = :id"
            ),
            {"id": campaign_id, "still_sent": still_sent},
        )
        conn.execute(text("UPDATE campaigns SET status = 'completed' WHERE id = :id"), {"id": campaign_id})


def test_a_finished_campaigns_counts_are_kept_once_every_message_is_final(
    database: Engine, redis_client: redis.Redis
) -> None:
    report = launch(database, redis_client, delivery_settings(), features(5))
    assert get_campaign(database, report.campaign_id).counts.queued == 5
    _finish(database, report.campaign_id)

    assert list_campaigns(database)[0].counts.delivered == 5
    with database.begin() as conn:  # the log is no longer read for it: its kept counts answer
        conn.execute(text("DELETE FROM communication_log WHERE campaign_id = :id"), {"id": report.campaign_id})
    assert get_campaign(database, report.campaign_id).counts.delivered == 5


def test_counts_still_follow_the_log_while_a_message_awaits_its_receipt(
    database: Engine, redis_client: redis.Redis
) -> None:
    report = launch(database, redis_client, delivery_settings(), features(5))
    _finish(database, report.campaign_id, still_sent=1)
    assert get_campaign(database, report.campaign_id).counts.sent == 1

    with database.begin() as conn:  # its late receipt arrives after the campaign completed
        conn.execute(
            text("UPDATE communication_log SET status = 'failed' WHERE campaign_id = :id AND status = 'sent'"),
            {"id": report.campaign_id},
        )

    counts = get_campaign(database, report.campaign_id).counts
    assert (counts.sent, counts.delivered, counts.failed) == (0, 4, 1)
