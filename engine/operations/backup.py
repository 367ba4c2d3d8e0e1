"""Backups of an installation, and restoring one into an empty installation.

A backup is one tar file: the product's database as `pg_dump` writes it (custom format), the feature snapshot
files of the data folder, and `backup.json` (when, and the schema revision). Restoring recreates the database from
the dump, migrates it to the code's newest schema (so an older backup restores into a newer release), puts the
snapshot files into this data folder and points the snapshots' rows at them. Redis is not in a backup: it holds
only work in flight (entries accepted and not yet applied, messages not yet sent), which a backup taken while
the streams are drained does not need.

`pg_dump` and `pg_restore` are of the server's major version: the embedded server's wheel's, or the system's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, create_engine, text

from engine import migrate
from engine.connections import get_engine, reset_connections
from engine.services.embedded import postgres_program
from engine.settings import Settings

DUMP = "database.dump"
SNAPSHOTS = "snapshots"
INFO = "backup.json"
# Snapshot rows name their files by absolute path: after a restore, the same file names in this data folder.
REPOINT_SNAPSHOTS = """
UPDATE feature_snapshots
SET features_path = :folder || '/' || regexp_replace(features_path, '^.*/', ''),
    events_path = :folder || '/' || regexp_replace(events_path, '^.*/', '')
"""


class RestoreRefused(RuntimeError):
    """The database to restore into holds customers already: a restore goes into an empty installation."""


@dataclass(frozen=True)
class BackupInfo:
    """What a backup holds: when it was taken, the schema revisions of its database, its snapshot files."""

    created_at: str
    revisions: list[str]
    snapshot_files: list[str]


def create_backup(settings: Settings, target: Path) -> BackupInfo:
    """Write a backup of the installation `settings` name to the tar file `target`."""
    snapshots = sorted((settings.data_dir / SNAPSHOTS).glob("*.parquet"))
    info = BackupInfo(
        created_at=datetime.now(UTC).isoformat(),
        revisions=sorted(migrate.database_revisions(get_engine())),
        snapshot_files=[path.name for path in snapshots],
    )
    with tempfile.TemporaryDirectory() as work:
        dump = Path(work) / DUMP
        _run(
            "pg_dump",
            _server_major(),
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            f"--file={dump}",
            settings.postgres_url,
        )
        (Path(work) / INFO).write_text(json.dumps(asdict(info), indent=2))
        target.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(target, "w") as tar:
            tar.add(Path(work) / INFO, INFO)
            tar.add(dump, DUMP)
            for path in snapshots:
                tar.add(path, f"{SNAPSHOTS}/{path.name}")
    return info


def restore_backup(settings: Settings, source: Path, replace: bool = False) -> BackupInfo:
    """Restore the backup `source` into the installation `settings` name, migrated to the newest schema; refused
    (`RestoreRefused`) where its database holds customers, unless `replace`."""
    customers = _customers()
    if customers and not replace:
        raise RestoreRefused(f"the database holds {customers} customers; restore into an empty installation")
    snapshots = settings.data_dir / SNAPSHOTS
    with tempfile.TemporaryDirectory() as work, tarfile.open(source) as tar:
        info = BackupInfo(**json.loads(_member(tar, INFO).read()))
        dump = Path(work) / DUMP
        with dump.open("wb") as out:
            shutil.copyfileobj(_member(tar, DUMP), out)
        _recreate_database()
        _run(
            "pg_restore",
            _server_major(),
            "--no-owner",
            "--no-privileges",
            f"--dbname={settings.postgres_url}",
            str(dump),
        )
        migrate.upgrade()
        snapshots.mkdir(parents=True, exist_ok=True)
        for name in info.snapshot_files:  # each written under its own name only: nothing outside the folder
            with (snapshots / Path(name).name).open("wb") as out:
                shutil.copyfileobj(_member(tar, f"{SNAPSHOTS}/{name}"), out)
    with get_engine().begin() as conn:
        conn.execute(text(REPOINT_SNAPSHOTS), {"folder": str(snapshots.resolve())})
    return info


def _member(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    member = tar.extractfile(name)
    if member is None:
        raise ValueError(f"{name} in the backup is not a file")
    return member


def _customers() -> int:
    """How many customers the database holds (0 where it, or its schema, does not exist yet)."""
    with _server() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": _database_name()})
    if not exists:
        return 0
    with get_engine().connect() as conn:
        if not conn.scalar(text("SELECT to_regclass('customers') IS NOT NULL")):
            return 0
        return int(conn.scalar(text("SELECT count(*) FROM customers")) or 0)


def _recreate_database() -> None:
    """Drop the product's database (ending the sessions in it) and create it empty."""
    reset_connections()  # this process's own pooled sessions go with it
    with _server() as conn:
        quoted = conn.dialect.identifier_preparer.quote(_database_name())
        conn.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {quoted}"))


def _server_major() -> int:
    """The major version of the product's Postgres server (15 for 15.4)."""
    with _server() as conn:
        return int(conn.scalar(text("SHOW server_version_num")) or 0) // 10000


@contextmanager
def _server() -> Iterator[Connection]:
    """A connection to the `postgres` database of the product's server (the product's may not exist yet)."""
    admin = create_engine(get_engine().url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            yield conn
    finally:
        admin.dispose()


def _database_name() -> str:
    name = get_engine().url.database
    if not name:
        raise ValueError("DATABASE_URL names no database")
    return name


def _run(program: str, server_major: int, *arguments: str) -> None:
    done = subprocess.run([postgres_program(program, server_major), *arguments], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{program} failed: {done.stderr.strip()}")
