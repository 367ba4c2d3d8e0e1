"""E-mail campaigns may carry a marketer-written HTML template beside the text one

html_template holds the sanitised HTML template (rendered per customer in the same sandbox as the text template);
null means the e-mail's HTML part is derived from the text, as before. communication_log.html keeps each
recipient's rendered (and sanitised) HTML beside their text message, as the delivery stream carries it.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 12:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("html_template", sa.Text(), nullable=True))
    op.add_column("communication_log", sa.Column("html", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("communication_log", "html")
    op.drop_column("campaigns", "html_template")
