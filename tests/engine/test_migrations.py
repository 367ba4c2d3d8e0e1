"""The migrations build the schema in `engine.schema` from empty, and take it all down again."""

from sqlalchemy import Engine, inspect

from engine import migrate
from engine.schema import metadata


def test_migrations_run_from_empty_to_head_and_back_down(database: Engine) -> None:
    migrate.downgrade("base")
    assert set(inspect(database).get_table_names()) == {"alembic_version"}

    migrate.upgrade()
    assert set(metadata.tables) <= set(inspect(database).get_table_names())


def test_head_matches_the_schema_module(database: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with database.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
