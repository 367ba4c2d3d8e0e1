"""Dagster's storage at rest: loading it again in the same process does not connect to look for its tables (the code
server loads it for every sensor evaluation), and where the process asks to hold connections (the daemon), its queries
share one instead of each opening its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.pool import Pool

from engine.services.manifest import DAGSTER_HOLD_CONNECTIONS
from pipelines.storage import PooledPostgresStorage


@pytest.fixture
def dagster_url(database: Engine) -> Iterator[str]:
    """A new, empty database for Dagster's storage beside the session's (dropped with it if this test cannot): a
    process looks for the tables of a database once, so each test has one of its own."""
    name = f"{database.url.database}_dagster_{uuid.uuid4().hex[:8]}"
    url = database.url.set(drivername="postgresql+psycopg2", database=name)
    admin = create_engine(database.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def connections_opened() -> Iterator[list[object]]:
    """Every database connection any SQLAlchemy pool opens while the test runs."""
    opened: list[object] = []

    def count(connection: object, _record: object) -> None:
        opened.append(connection)

    event.listen(Pool, "connect", count)
    try:
        yield opened
    finally:
        event.remove(Pool, "connect", count)


def test_the_storage_makes_its_tables_once_and_loading_it_again_does_not_connect(
    dagster_url: str, connections_opened: list[object]
) -> None:
    first = PooledPostgresStorage.from_config_value(None, {"postgres_url": dagster_url})
    assert first.run_storage.get_runs() == []  # its tables are there
    connections_opened.clear()

    again = PooledPostgresStorage.from_config_value(None, {"postgres_url": dagster_url})

    assert connections_opened == []
    assert again.run_storage.get_runs() == []


@pytest.mark.parametrize(("hold", "opened"), [("1", 1), (None, 5)])
def test_queries_share_one_connection_only_where_the_process_holds_them(
    dagster_url: str,
    connections_opened: list[object],
    monkeypatch: pytest.MonkeyPatch,
    hold: str | None,
    opened: int,
) -> None:
    if hold is None:
        monkeypatch.delenv(DAGSTER_HOLD_CONNECTIONS, raising=False)
    else:
        monkeypatch.setenv(DAGSTER_HOLD_CONNECTIONS, hold)
    storage = PooledPostgresStorage.from_config_value(None, {"postgres_url": dagster_url})
    connections_opened.clear()

    for _ in range(5):
        storage.run_storage.get_runs()

    assert len(connections_opened) == opened
