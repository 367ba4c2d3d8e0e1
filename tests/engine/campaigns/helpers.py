"""Building blocks for campaign tests: feature frames, settings for delivery, and launched campaigns."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import polars as pl
import redis
from sqlalchemy import Engine, text

from engine.campaigns.audience import FrameAudience
from engine.campaigns.launch import LaunchReport, launch_campaign
from engine.campaigns.lifecycle import CampaignDraft, create_campaign, schedule_campaign
from engine.features.catalog import base_catalog
from engine.settings import Settings, get_settings

NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
EVERYONE = {"field": "customer_id", "op": ">=", "value": 0}
OFFER = "Hi {{ first_name | default('there') }}, here is 10% off on your next order!"

_DTYPES = base_catalog().polars_schema()


def features(count: int, *, first_id: int = 1, **columns: Sequence[Any] | Any) -> pl.DataFrame:
    """`count` customers who may all be messaged at noon UTC; `columns` override whole columns (a list)
    or set one value for everyone."""
    ids = list(range(first_id, first_id + count))
    data: dict[str, Any] = {
        "customer_id": ids,
        "first_name": [f"Name{n % 50}" for n in ids],
        "phone": [f"+9199{n:08d}" for n in ids],
        "email": [f"customer{n}@example.com" for n in ids],
        "sms_consent": True,
        "email_consent": True,
        "timezone": "UTC",
        "total_spend": [float(n % 1000) for n in ids],
        "city": "Mumbai",
    }
    data.update(columns)
    frame = pl.DataFrame({name: value if isinstance(value, list) else [value] * count for name, value in data.items()})
    return frame.with_columns(pl.col(name).cast(_DTYPES[name]) for name in frame.columns if name in _DTYPES)


def delivery_settings(vendor_url: str = "http://127.0.0.1:9", **changes: Any) -> Settings:
    """The session's settings, posting to `vendor_url`, with quick retries."""
    defaults = {
        "delivery_vendor_url": vendor_url,
        "delivery_backoff_s": 0.01,
        "delivery_backoff_max_s": 0.05,
        "delivery_request_timeout_s": 5.0,
        "delivery_batch_size": 100,
    }
    return get_settings().model_copy(update={**defaults, **changes})


def new_campaign(
    db: Engine,
    *,
    template: str = OFFER,
    rule: Any = EVERYONE,
    channel: str = "sms",
    subject: str | None = None,
    at: datetime = NOON,
    topic: str | None = None,
    html_template: str | None = None,
) -> int:
    draft = CampaignDraft(
        "Diwali offer", channel, template, subject, audience_rule=rule, topic=topic, html_template=html_template
    )
    campaign_id = create_campaign(db, draft, base_catalog())
    schedule_campaign(db, campaign_id, at)
    return campaign_id


def launch(
    db: Engine, client: redis.Redis, settings: Settings, frame: pl.DataFrame, *, now: datetime = NOON, **campaign: Any
) -> LaunchReport:
    """Create, schedule and launch a campaign to `frame` at `now`."""
    campaign_id = new_campaign(db, at=now, **campaign)
    return launch_campaign(db, client, settings, campaign_id, FrameAudience(frame), now=now)


def log_rows(db: Engine, campaign_id: int) -> list[dict[str, Any]]:
    with db.connect() as conn:
        rows = conn.execute(
            text("SELECT * FROM communication_log WHERE campaign_id = :id ORDER BY customer_id"), {"id": campaign_id}
        )
        return [dict(row) for row in rows.mappings()]


def statuses(db: Engine, campaign_id: int) -> dict[int, str]:
    return {row["customer_id"]: row["status"] for row in log_rows(db, campaign_id)}


@contextmanager
def receipts_secret(secret: str) -> Iterator[str]:
    """The API's settings take receipts signed with `secret` for the duration."""
    os.environ["XENO_RECEIPTS_WEBHOOK_SECRET"] = secret
    get_settings.cache_clear()
    try:
        yield secret
    finally:
        del os.environ["XENO_RECEIPTS_WEBHOOK_SECRET"]
        get_settings.cache_clear()
