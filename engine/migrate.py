"""Runs the Alembic migrations from code, so `xeno migrate`, `xeno up` and the tests share one path."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, text

from engine.connections import get_engine
from engine.settings import get_settings


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("migrations")))
    return config


@cache
def code_heads() -> frozenset[str]:
    """The newest revisions the code's migrations lead to (read once: the code does not change while it runs)."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def database_revisions(db: Engine) -> frozenset[str]:
    """The revisions the database is migrated to (none before the first migration)."""
    with db.connect() as conn:
        if not conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL")):
            return frozenset()
        return frozenset(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def ensure_database(name: str) -> None:
    """Create database `name` on the settings' server when it does not exist yet (a fresh server)."""
    admin = create_engine(get_engine().url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": name})
            if not exists:
                conn.execute(text(f"CREATE DATABASE {conn.dialect.identifier_preparer.quote(name)}"))
    finally:
        admin.dispose()


def upgrade(revision: str = "head") -> None:
    """Create the database if needed and migrate it up to `revision`."""
    database = get_engine().url.database
    if database:
        ensure_database(database)
    command.upgrade(alembic_config(), revision)


def prepare_databases() -> None:
    """Everything a start needs: the product's database at the newest schema, and Dagster's database."""
    upgrade()
    ensure_database(get_settings().dagster_database)


def downgrade(revision: str) -> None:
    command.downgrade(alembic_config(), revision)
