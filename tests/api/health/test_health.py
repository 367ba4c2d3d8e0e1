"""`/health` answers while the API runs; `/ready` only while Postgres and Redis answer and the database is
migrated to the code's newest revision, naming what is wrong otherwise."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from engine.migrate import code_heads


@pytest.fixture
def schema_one_migration_behind(database: Engine) -> Iterator[str]:
    """The session database recorded as migrated to 0001 only (put back afterwards)."""
    with database.begin() as conn:
        current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        yield current
    finally:
        with database.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :current"), {"current": current})


def test_health_answers_while_the_api_runs(api_client: TestClient) -> None:
    answer = api_client.get("/health")
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})


def test_ready_when_postgres_redis_and_the_schema_are(api_client: TestClient) -> None:
    answer = api_client.get("/ready")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "ok", "postgres": "ok", "redis": "ok", "migrations": "ok"}


def test_not_ready_while_the_database_lacks_a_migration(
    api_client: TestClient, schema_one_migration_behind: str
) -> None:
    answer = api_client.get("/ready")
    assert answer.status_code == 503
    body = answer.json()
    assert (body["status"], body["postgres"], body["redis"]) == ("degraded", "ok", "ok")
    assert body["migrations"] == f"behind: database at 0001, code at {', '.join(sorted(code_heads()))}"
