"""communication_log.failure_kind: whether a failed message's failure is transient or permanent

Failures recorded before are classified by their reason, with the classifier the sender and the receipts
applier use (engine.campaigns.failures), one UPDATE for all the rows of each distinct reason.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 10:00:00
"""

import sqlalchemy as sa
from alembic import op

from engine.campaigns.failures import failure_kind

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

CLASSIFY = """
UPDATE communication_log l SET failure_kind = k.kind
FROM unnest(CAST(:reasons AS text[]), CAST(:kinds AS text[])) AS k(reason, kind)
WHERE l.status = 'failed' AND COALESCE(l.reason, '') = k.reason
"""


def upgrade() -> None:
    op.add_column("communication_log", sa.Column("failure_kind", sa.Text(), nullable=True))
    op.create_check_constraint(
        op.f("ck_communication_log_failure_kind"),
        "communication_log",
        "failure_kind IN ('transient', 'permanent')",
    )
    conn = op.get_bind()
    reasons = [
        reason or ""
        for reason in conn.execute(
            sa.text("SELECT DISTINCT reason FROM communication_log WHERE status = 'failed'")
        ).scalars()
    ]
    if reasons:
        kinds = [failure_kind(reason) for reason in reasons]
        conn.execute(sa.text(CLASSIFY), {"reasons": reasons, "kinds": kinds})


def downgrade() -> None:
    op.drop_column("communication_log", "failure_kind")
