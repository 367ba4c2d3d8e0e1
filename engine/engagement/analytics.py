"""How campaigns engaged people and what they brought in: opens, clicks, conversions and revenue per campaign.

Opens and clicks are counted from the `Email Opened` / `Link Clicked` events our tracking ingested (so they
include only what reached `events`): `opened` and `clicked` are customers, `clicks` every click.

Conversions are attributed by last touch: a completed order belongs to the campaign of the newest message
its customer was sent (status sent or delivered, any channel) at or before the order, if that message was
sent less than `XENO_ATTRIBUTION_WINDOW_DAYS` before it. Each order goes to one campaign at most, whatever the number
of campaigns that reached its customer; ties in send time go to the message logged last. Revenue is the sum
of the attributed orders' amounts, as the features sum spend (currencies are not converted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import Engine, text

from engine.engagement.tracking import EMAIL_OPENED, ENGAGEMENT_EVENTS, LINK_CLICKED, TRACKED_EVENT_PREFIX
from engine.features.compute import SPEND_STATUS
from engine.settings import Settings

TOUCHES = ("sent", "delivered")

# The event names are written out (they are ours, not input) so Postgres sees the partial index applies.
_ENGAGEMENT = f"""
SELECT (properties ->> 'campaign_id')::bigint AS campaign_id,
       count(DISTINCT customer_id) FILTER (WHERE name = '{EMAIL_OPENED}') AS opened,
       count(DISTINCT customer_id) FILTER (WHERE name = '{LINK_CLICKED}') AS clicked,
       count(*) FILTER (WHERE name = '{LINK_CLICKED}') AS clicks
FROM events
WHERE name IN {ENGAGEMENT_EVENTS!r} AND properties ->> 'campaign_id' = ANY(:ids)
  AND message_id LIKE '{TRACKED_EVENT_PREFIX}%'
GROUP BY 1
"""

# The campaigns that may have sent a message between the first asked-about send and the last order that could be
# attributed to it (created before the last such order, not finished before the first send; a day's slack for
# messages in flight when a campaign was cancelled) are the only ones whose messages can be anyone's last touch
# there: their rows are read by campaign (the log's unique index), so the log needs no index by customer, which
# would slow every launch's COPY.
_CONVERSIONS = """
WITH asked AS MATERIALIZED (
    SELECT campaign_id, customer_id, sent_at FROM communication_log
    WHERE campaign_id = ANY(:ids) AND status = ANY(:touches) AND sent_at IS NOT NULL
),
span AS MATERIALIZED (SELECT min(sent_at) AS first_sent, max(sent_at) + :window AS last_order FROM asked),
touches AS MATERIALIZED (
    SELECT l.id, l.campaign_id, l.customer_id, l.sent_at FROM communication_log l, span
    WHERE l.campaign_id IN (
        SELECT c.id FROM campaigns c
        WHERE c.id = ANY(:ids) OR (
            c.created_at <= span.last_order
            AND (c.completed_at IS NULL OR c.completed_at >= span.first_sent - interval '1 day')
        )
    )
      AND l.status = ANY(:touches) AND l.sent_at BETWEEN span.first_sent AND span.last_order
),
candidates AS MATERIALIZED (
    SELECT o.id, o.customer_id, o.amount, o.ordered_at FROM orders o, span
    WHERE o.status = :spend_status AND o.ordered_at >= span.first_sent AND o.ordered_at < span.last_order
      AND o.customer_id IN (SELECT customer_id FROM asked)
),
last_touch AS (
    SELECT DISTINCT ON (o.id) o.id, o.amount, t.campaign_id
    FROM candidates o
    JOIN touches t ON t.customer_id = o.customer_id AND t.sent_at <= o.ordered_at AND o.ordered_at < t.sent_at + :window
    ORDER BY o.id, t.sent_at DESC, t.id DESC
)
SELECT campaign_id, count(*) AS conversions, sum(amount) AS revenue
FROM last_touch WHERE campaign_id = ANY(:ids)
GROUP BY campaign_id
"""


@dataclass(frozen=True)
class CampaignEngagement:
    """One campaign's engagement and conversions (all zero before anyone engaged)."""

    campaign_id: int
    opened: int = 0  # customers who opened the e-mail
    clicked: int = 0  # customers who clicked a link in it
    clicks: int = 0  # every click
    conversions: int = 0  # orders attributed to it
    revenue: Decimal = Decimal(0)  # their amounts


def campaign_engagement(db: Engine, settings: Settings, campaign_ids: Sequence[int]) -> dict[int, CampaignEngagement]:
    """The engagement of each of `campaign_ids` (unknown ids get zeros), orders attributed within
    `settings.attribution_window_days`."""
    ids = sorted(set(campaign_ids))
    if not ids:
        return {}
    found: dict[int, CampaignEngagement] = {}
    with db.connect() as conn:
        engaged = conn.execute(text(_ENGAGEMENT), {"ids": [str(campaign_id) for campaign_id in ids]}).mappings()
        opens_and_clicks = {row["campaign_id"]: row for row in engaged}
        converted = conn.execute(
            text(_CONVERSIONS),
            {
                "ids": ids,
                "window": timedelta(days=settings.attribution_window_days),
                "spend_status": SPEND_STATUS,
                "touches": list(TOUCHES),
            },
        ).mappings()
        conversions = {row["campaign_id"]: row for row in converted}
    for campaign_id in ids:
        engaged_row, converted_row = opens_and_clicks.get(campaign_id), conversions.get(campaign_id)
        found[campaign_id] = CampaignEngagement(
            campaign_id,
            opened=engaged_row["opened"] if engaged_row else 0,
            clicked=engaged_row["clicked"] if engaged_row else 0,
            clicks=engaged_row["clicks"] if engaged_row else 0,
            conversions=converted_row["conversions"] if converted_row else 0,
            revenue=converted_row["revenue"] if converted_row else Decimal(0),
        )
    return found
