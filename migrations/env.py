"""Alembic environment: migrates the database named by the settings to `engine.schema.metadata`."""

from alembic import context

from engine.connections import get_engine
from engine.schema import metadata


def run_migrations_online() -> None:
    with get_engine().connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
