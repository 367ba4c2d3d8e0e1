"""An installation of the first release (schema 0001) with data in it upgrades to the newest schema keeping its
customers, orders, events and write keys, and the product works on that data afterwards."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from sqlalchemy import Engine, text

from engine import migrate
from engine.features.materialize import materialize_features
from engine.keys import create_key, verify_key

FIRST_RELEASE_DATA = [
    """INSERT INTO customers (external_id, email, city, sms_consent, signed_up_at, traits)
       VALUES ('c1', 'asha@example.com', 'Pune', true, now() - interval '400 days', '{"tier": "gold"}'),
              ('c2', 'ravi@example.com', 'Delhi', false, now() - interval '20 days', '{}')""",
    """INSERT INTO orders (external_id, customer_id, amount, currency, items, ordered_at)
       SELECT o.external_id, c.id, o.amount, 'INR', '[{"sku": "TEE-M", "quantity": 1}]', now() - o.age
       FROM customers c, (VALUES ('o1', 1200.50, interval '3 days'), ('o2', 99.50, interval '100 days'))
            AS o (external_id, amount, age)
       WHERE c.external_id = 'c1'""",
    """INSERT INTO events (message_id, customer_id, type, name, occurred_at)
       SELECT 'm1', id, 'track', 'Product Viewed', now() - interval '1 day' FROM customers WHERE external_id = 'c2'""",
]


def test_a_first_release_installation_upgrades_with_its_data_and_works_on_it(database: Engine, data_dir: Path) -> None:
    migrate.downgrade("0001")
    try:
        key = create_key(database, "web shop").secret  # api_keys is as old as 0001
        with database.begin() as conn:
            for statement in FIRST_RELEASE_DATA:
                conn.execute(text(statement))

        migrate.upgrade()

        with database.connect() as conn:
            customers: dict[str, str] = dict(conn.execute(text("SELECT external_id, city FROM customers")).all())
            orders = conn.execute(text("SELECT count(*), sum(amount) FROM orders")).one()
            events = conn.execute(text("SELECT name FROM events")).scalars().all()
        assert customers == {"c1": "Pune", "c2": "Delhi"}
        assert tuple(orders) == (2, 1300)
        assert events == ["Product Viewed"]
        assert verify_key(database, key) is not None

        snapshot = materialize_features(database, data_dir / "snapshots").snapshot
        features = pl.read_parquet(snapshot.features_path).sort("total_spend", descending=True)
        assert snapshot.row_count == 2
        assert features.get_column("total_spend").to_list() == [1300, 0]
        assert features.get_column("orders_30d").to_list() == [1, 0]
    finally:
        migrate.upgrade()
