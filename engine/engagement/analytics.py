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

_CONVERSIONS = """
SELECT t.campaign_id, count(*) AS conversions, sum(o.amount) AS revenue
FROM communication_log t
JOIN orders o ON o.customer_id = t.customer_id
    AND o.ordered_at >= t.sent_at AND o.ordered_at < t.sent_at + :window AND o.status = :spend_status
WHERE t.campaign_id = ANY(:ids) AND t.status = ANY(:touches) AND t.sent_at IS NOT NULL
  AND NOT EXISTS (
    SELECT 1 FROM communication_log later
    WHERE later.customer_id = t.customer_id AND later.status = ANY(:touches)
      AND later.sent_at <= o.ordered_at
      AND (later.sent_at > t.sent_at OR (later.sent_at = t.sent_at AND later.id > t.id))
  )
GROUP BY t.campaign_id
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
