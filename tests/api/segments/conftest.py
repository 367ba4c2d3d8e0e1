"""The API in process over the six customers of `data`, and snapshots of them published as the pipeline does."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.main import create_app
from api.snapshot import SnapshotHolder
from engine.features.snapshot import Snapshot, latest_snapshot, latest_version, load_snapshot, publish_snapshot
from tests.api.segments import data
from tests.fixtures.users import auth_headers


@dataclass
class Publisher:
    """Publishes feature snapshots (Postgres table, Parquet files, a `feature_snapshots` row)."""

    db: Engine
    folder: Path

    def publish(
        self, features: pl.DataFrame, events: pl.DataFrame | None = None, taken_at: datetime = data.TAKEN_AT
    ) -> Snapshot:
        events = data.event_frame() if events is None else events
        info = publish_snapshot(self.db, self.folder, features, events, taken_at=taken_at, source_totals={})
        return load_snapshot(info)


@dataclass
class LoadGate:
    """The API's snapshot loads: they wait while `opened` is clear, and `started` tells that one began."""

    db: Engine
    opened: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.opened.set()

    def load(self) -> Snapshot | None:
        self.started.set()
        self.opened.wait(10)
        return latest_snapshot(self.db)


@pytest.fixture
def publisher(database: Engine, tmp_path: Path) -> Publisher:
    return Publisher(database, tmp_path / "snapshots")


@pytest.fixture
def loads(database: Engine) -> LoadGate:
    return LoadGate(database)


@pytest.fixture
def client(database: Engine, redis_client: redis.Redis, loads: LoadGate) -> Iterator[TestClient]:
    """The API, checking for a newer snapshot every 50 ms (instead of every few seconds)."""
    data.store_customers(database)
    app = create_app()
    app.state.snapshots = SnapshotHolder(lambda: latest_version(database), loads.load, check_every_s=0.05)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def published(publisher: Publisher) -> Snapshot:
    return publisher.publish(data.features())


@pytest.fixture
def analyst(database: Engine) -> dict[str, str]:
    return auth_headers(database, "analyst")


@pytest.fixture
def viewer(database: Engine) -> dict[str, str]:
    return auth_headers(database, "viewer")
