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


def test_dead_letters_kept_twice_before_0012_are_kept_once_preferring_a_replayed_one(database: Engine) -> None:
    migrate.downgrade("0011")
    try:
        letters = [  # (stream entry, payload, replayed): 1-0 twice, 2-0 three times (the second replayed), 3-0 once
            ("1-0", '{"n": 1}', False), ("1-0", '{"n": 1}', False), ("2-0", '{"n": 2}', False),
            ("2-0", '{"n": 2}', True), ("2-0", '{"n": 2}', False), ("1-0", '{"n": 3}', False),
        ]  # fmt: skip
        with database.begin() as conn:
            for entry_id, payload, replayed in letters:
                conn.execute(
                    text(
                        "INSERT INTO ingest_dead_letters (stream_entry_id, kind, payload, error, replayed_at) "
                        "VALUES (:entry_id, 'events', :payload, 'refused', CASE WHEN :replayed THEN now() END)"
                    ),
                    {"entry_id": entry_id, "payload": payload, "replayed": replayed},
                )
        migrate.upgrade("0012")
        with database.connect() as conn:
            kept = conn.execute(text("SELECT id, replayed_at IS NOT NULL FROM ingest_dead_letters ORDER BY id")).all()
    finally:
        migrate.upgrade()
    assert [tuple(row) for row in kept] == [(1, False), (4, True), (6, False)]
