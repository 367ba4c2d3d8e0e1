"""The API over the six customers of `tests.api.segments.data`, with a snapshot in which they may be messaged,
and campaigns launched from it as the launch job does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from engine.campaigns.audience import PublishedAudience
from engine.campaigns.launch import LaunchReport, launch_campaign
from engine.features.catalog import base_catalog
from engine.features.snapshot import Snapshot
from tests.api.segments import data
from tests.api.segments.conftest import Publisher
from tests.api.segments.conftest import client as client
from tests.api.segments.conftest import loads as loads
from tests.api.segments.conftest import publisher as publisher
from tests.engine.campaigns.helpers import delivery_settings
from tests.fixtures.users import auth_headers

OFFER = "Hi {{ first_name | default('there') }}, here is 10% off!"


def reachable_features() -> pl.DataFrame:
    """The six, all consenting to SMS and e-mail, in UTC, so nothing holds their messages back."""
    return data.features().with_columns(
        phone=pl.Series([f"+4477009000{n:02d}" for n in range(1, 7)]),
        sms_consent=pl.lit(True),
        email_consent=pl.lit(True),
        timezone=pl.lit("UTC").cast(base_catalog().polars_schema()["timezone"]),
    )


@pytest.fixture
def published(publisher: Publisher) -> Snapshot:
    return publisher.publish(reachable_features())


@pytest.fixture
def marketer(database: Engine) -> dict[str, str]:
    return auth_headers(database, "marketer", "marketer@shop.example")


def launch_now(db: Engine, redis_client: redis.Redis, campaign_id: int) -> LaunchReport:
    """Launch a campaign scheduled for now, as the launch job does, outside quiet hours."""
    settings = delivery_settings(quiet_hours_start=None, quiet_hours_end=None)
    return launch_campaign(db, redis_client, settings, campaign_id, PublishedAudience(db), now=datetime.now(UTC))


def create(client: TestClient, headers: dict[str, str], **changes: object) -> dict[str, Any]:
    body = {"name": "Diwali offer", "channel": "sms", "template": OFFER, "audience_rule": data.BIG_SPENDERS}
    response = client.post("/v1/campaigns", json={**body, **changes}, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result
