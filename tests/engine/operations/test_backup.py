"""`xeno backup` writes the database and the feature snapshots to one file, and `xeno restore` brings them back
into an empty installation elsewhere (another database, another data folder), where the product works on them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from engine.connections import get_engine, reset_connections
from engine.features.materialize import materialize_features
from engine.features.snapshot import latest_snapshot
from engine.migrate import code_heads, database_revisions
from engine.operations.backup import RestoreRefused, create_backup, restore_backup
from engine.settings import Settings, get_settings
from tests.fixtures.services import SESSION_TAG


@pytest.fixture
def elsewhere(tmp_path: Path, configure: Callable[..., Settings]) -> Iterator[Callable[[], Settings]]:
    """Moves this process to an empty installation: a database that does not exist yet (dropped with the session's
    others) and a data folder of its own; back to the session's afterwards."""
    database_url = get_settings().postgres_url.rsplit("/", 1)[0] + f"/{SESSION_TAG}_restored"

    def move() -> Settings:
        settings = configure(DATABASE_URL=database_url, XENO_DATA_DIR=str(tmp_path / "elsewhere"))
        reset_connections()
        return settings

    yield move
    reset_connections()


def test_a_backup_restores_into_an_empty_installation_elsewhere(
    database: Engine, data_dir: Path, tmp_path: Path, elsewhere: Callable[[], Settings]
) -> None:
    with database.begin() as conn:
        conn.execute(text("INSERT INTO customers (external_id, email) VALUES ('c1', 'asha@example.com')"))
    materialize_features(database, data_dir / "snapshots")
    backup = tmp_path / "backup.tar"
    info = create_backup(get_settings(), backup)
    assert info.revisions == sorted(code_heads())

    settings = elsewhere()
    restored = restore_backup(settings, backup)

    assert restored.snapshot_files == info.snapshot_files
    db = get_engine()
    with db.connect() as conn:
        assert conn.execute(text("SELECT email FROM customers")).scalars().all() == ["asha@example.com"]
    assert database_revisions(db) == code_heads()
    snapshot = latest_snapshot(db)
    assert snapshot is not None
    assert snapshot.info.features_path.parent == (settings.data_dir / "snapshots").resolve()
    assert snapshot.features.height == 1


def test_a_restore_into_a_database_with_customers_is_refused(database: Engine, data_dir: Path, tmp_path: Path) -> None:
    backup = tmp_path / "backup.tar"
    create_backup(get_settings(), backup)
    with database.begin() as conn:
        conn.execute(text("INSERT INTO customers (external_id) VALUES ('kept')"))

    with pytest.raises(RestoreRefused, match="holds 1 customers"):
        restore_backup(get_settings(), backup)
    with database.connect() as conn:
        assert conn.execute(text("SELECT external_id FROM customers")).scalars().all() == ["kept"]
