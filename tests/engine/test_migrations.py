"""The migrations build the schema in `engine.schema` from empty, and take it all down again."""

from sqlalchemy import Engine, inspect, text

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


def test_failures_logged_before_0009_are_classified_by_their_reason(database: Engine) -> None:
    migrate.downgrade("0008")
    try:
        reasons = {1: "unsubscribed", 2: "mailbox full", 3: None, 4: "refused by the vendor (422): bad body"}
        with database.begin() as conn:
            for customer_id, reason in reasons.items():
                conn.execute(
                    text(
                        "INSERT INTO communication_log (campaign_id, customer_id, channel, status, reason, "
                        "idempotency_key) VALUES (1, :customer, 'sms', 'failed', :reason, :customer)"
                    ),
                    {"customer": customer_id, "reason": reason},
                )
            conn.execute(
                text(
                    "INSERT INTO communication_log (campaign_id, customer_id, channel, status, idempotency_key) "
                    "VALUES (1, 5, 'sms', 'delivered', '5')"
                )
            )
        migrate.upgrade("0009")
        with database.connect() as conn:
            kinds: dict[int, str | None] = dict(
                conn.execute(text("SELECT customer_id, failure_kind FROM communication_log")).all()
            )
    finally:
        migrate.upgrade()
    assert kinds == {1: "permanent", 2: "transient", 3: "permanent", 4: "permanent", 5: None}
