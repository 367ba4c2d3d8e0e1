"""Events no longer hold a foreign key to customers

The key's check ran once per inserted event (a query and a row lock on the customer each), about a third of
what applying an event cost Postgres. The ingest transaction now locks the customers a batch names once, in one
statement (`engine.ingest.apply.LOCK_NAMED_CUSTOMERS`), which keeps what the key guaranteed: an erasure, which
deletes a customer's events before the customer, waits for the batches naming them, so no event is left naming
a customer that is gone. Orders keep their key: they are few.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 17:50:00
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("fk_events_customer_id_customers", "events", type_="foreignkey")


def downgrade() -> None:
    op.execute(
        "UPDATE events e SET customer_id = NULL WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = e.customer_id)"
    )
    op.create_foreign_key(
        "fk_events_customer_id_customers", "events", "customers", ["customer_id"], ["id"], ondelete="CASCADE"
    )
