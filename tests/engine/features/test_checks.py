"""The snapshot checks pass on a sound snapshot, keep passing while ingestion goes on, and catch damage."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from engine.features.checks import orders_agree_with_postgres, row_count_matches_customers, spend_is_never_negative
from engine.features.materialize import materialize_features
from engine.features.snapshot import SnapshotInfo
from tests.engine.features.data import NOW, add_customer, add_order, days_ago

CHECKS = (row_count_matches_customers, spend_is_never_negative, orders_agree_with_postgres)


@pytest.fixture
def published(database: Engine, tmp_path: Path) -> SnapshotInfo:
    for n in range(3):
        customer = add_customer(database, f"c{n}")
        for days in range(n + 1):
            add_order(database, customer, f"{10 + days}.25", days_ago(days * 40))
        add_order(database, customer, "99.00", days_ago(1), "refunded")
    return materialize_features(database, tmp_path, now=NOW).snapshot


def damage(db: Engine, info: SnapshotInfo, statement: str) -> None:
    with db.begin() as conn:
        conn.execute(text(statement.format(table=info.table_name)))


def test_a_fresh_snapshot_passes_every_check_even_after_more_data_arrives(
    database: Engine, published: SnapshotInfo
) -> None:
    latecomer = add_customer(database, "late")
    add_order(database, latecomer, "5.00", days_ago(1))

    outcomes = [check(database, published) for check in CHECKS]

    assert [outcome.passed for outcome in outcomes] == [True, True, True]
    assert outcomes[2].figures["snapshot_orders"] == 6
    assert outcomes[2].figures["snapshot_spend"] == pytest.approx(6 * 10.25 + 1 + 2 + 1)


def test_a_missing_row_fails_the_row_count(database: Engine, published: SnapshotInfo) -> None:
    damage(database, published, "DELETE FROM {table} WHERE customer_id = (SELECT min(customer_id) FROM {table})")

    outcome = row_count_matches_customers(database, published)

    assert not outcome.passed
    assert "2 rows (2 customers)" in outcome.description
    assert "3 customers in Postgres" in outcome.description


def test_negative_spend_fails(database: Engine, published: SnapshotInfo) -> None:
    damage(database, published, "UPDATE {table} SET spend_90d = -1 WHERE order_count = 3")

    assert spend_is_never_negative(database, published).figures == {"negative_rows": 1}
    assert not spend_is_never_negative(database, published).passed


def test_counts_that_disagree_with_the_orders_fail(database: Engine, published: SnapshotInfo) -> None:
    damage(database, published, "UPDATE {table} SET order_count = order_count + 1 WHERE order_count = 1")
    assert not orders_agree_with_postgres(database, published).passed


def test_a_window_wider_than_the_total_fails(database: Engine, published: SnapshotInfo) -> None:
    damage(database, published, "UPDATE {table} SET orders_30d = 5 WHERE order_count = 1")

    outcome = orders_agree_with_postgres(database, published)

    assert not outcome.passed
    assert outcome.figures["customers_with_inconsistent_windows"] == 1
