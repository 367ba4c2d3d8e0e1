"""The API in process over the six customers of `data`, with snapshots published on a shelf the test controls."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.main import create_app
from api.snapshot import PublishedSnapshot, SnapshotHolder
from engine.features.catalog import Catalog, catalog_for_schema
from tests.api.segments import data
from tests.fixtures.users import auth_headers


@dataclass
class Shelf:
    """Published snapshots, newest last. Loads wait for `loads_wait_for` when it is set (a slow load)."""

    published: list[PublishedSnapshot] = field(default_factory=list)
    loads_wait_for: threading.Event | None = None
    loading: threading.Event = field(default_factory=threading.Event)

    def publish(
        self, features: pl.DataFrame, events: pl.DataFrame | None = None, taken_at: datetime = data.TAKEN_AT
    ) -> PublishedSnapshot:
        catalog = Catalog(
            feature for feature in catalog_for_schema(features.schema) if feature.name in features.columns
        )
        snapshot = PublishedSnapshot(f"v{len(self.published) + 1}", taken_at, features, events, catalog)
        self.published.append(snapshot)
        return snapshot

    def latest_version(self) -> str | None:
        return self.published[-1].version if self.published else None

    def load_latest(self) -> PublishedSnapshot | None:
        self.loading.set()
        if self.loads_wait_for is not None:
            self.loads_wait_for.wait(10)
        return self.published[-1] if self.published else None


@pytest.fixture
def shelf() -> Shelf:
    return Shelf()


@pytest.fixture
def client(database: Engine, redis_client: redis.Redis, shelf: Shelf) -> Iterator[TestClient]:
    data.store_customers(database)
    app = create_app()
    app.state.snapshots = SnapshotHolder(shelf.latest_version, shelf.load_latest, check_every_s=0.05)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def published(shelf: Shelf) -> PublishedSnapshot:
    return shelf.publish(data.features(), data.event_frame())


@pytest.fixture
def analyst(database: Engine) -> dict[str, str]:
    return auth_headers(database, "analyst")


@pytest.fixture
def viewer(database: Engine) -> dict[str, str]:
    return auth_headers(database, "viewer")
