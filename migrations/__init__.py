"""Alembic migrations for the schema in `engine.schema` (run them with `xeno migrate`)."""
