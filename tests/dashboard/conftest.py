"""The dashboard against the real API on loopback (real Postgres and Redis) with the developer sign-in on,
and the six customers of the segment tests with their feature snapshot published."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
import pytest
from sqlalchemy import Engine

from engine.features.snapshot import Snapshot
from engine.settings import Settings
from tests.api.segments import data
from tests.api.segments.conftest import Publisher, publisher  # noqa: F401


@pytest.fixture
def dev_signin(configure: Callable[..., Settings]) -> Settings:
    """The developer sign-in switched on, for the API about to be made and for the dashboard."""
    return configure(XENO_DEV_SIGNIN="true")


@pytest.fixture
def api_url(dev_signin: Settings, live_api: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The API on a loopback port, and the dashboard pointed at it."""
    monkeypatch.setenv("XENO_API_URL", live_api)
    return live_api


@pytest.fixture
def shop(database: Engine, publisher: Publisher) -> Snapshot:  # noqa: F811
    """The six customers in Postgres and a published snapshot of them."""
    data.store_customers(database)
    return publisher.publish(data.features())


@pytest.fixture
def reachable_shop(
    dev_signin: Settings,
    configure: Callable[..., Settings],
    shop: Snapshot,
    publisher: Publisher,  # noqa: F811
) -> Snapshot:
    """The six customers, each with a phone and consenting to SMS and e-mail, in a newer snapshot, and no quiet
    hours: a campaign to them sends everything at once."""
    configure(XENO_QUIET_HOURS_START="", XENO_QUIET_HOURS_END="")
    reachable = data.features().with_columns(
        pl.lit(True).alias("email_consent"),
        pl.lit(True).alias("sms_consent"),
        pl.Series("phone", [f"+4477009000{person[0]:02d}" for person in data.PEOPLE]),
    )
    return publisher.publish(reachable)
