"""saved segments, their sizes and member sets; customer search indexes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 13:18:50.320015
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("rule", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_segments_owner_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("name", name=op.f("uq_segments_name")),
    )
    op.create_table(
        "segment_sizes",
        sa.Column("segment_id", sa.BigInteger(), nullable=False),
        sa.Column("snapshot_version", sa.BigInteger(), nullable=False),
        sa.Column("snapshot_taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("entered_count", sa.BigInteger(), nullable=True),
        sa.Column("left_count", sa.BigInteger(), nullable=True),
        sa.Column("members", sa.LargeBinary(), nullable=False),
        sa.Column("rule", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["segments.id"], name=op.f("fk_segment_sizes_segment_id_segments"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("segment_id", "snapshot_version", name=op.f("pk_segment_sizes")),
    )
    op.create_index(
        "ix_segment_sizes_segment_id_snapshot_taken_at",
        "segment_sizes",
        ["segment_id", "snapshot_taken_at"],
        unique=False,
    )
    op.create_index(
        "ix_customers_search_email",
        "customers",
        [sa.literal_column("lower(email)").label("email")],
        unique=False,
        postgresql_ops={"email": "text_pattern_ops"},
    )
    op.create_index(
        "ix_customers_search_external_id",
        "customers",
        [sa.literal_column("lower(external_id)").label("external_id")],
        unique=False,
        postgresql_ops={"external_id": "text_pattern_ops"},
    )
    op.create_index(
        "ix_customers_search_first_name",
        "customers",
        [sa.literal_column("lower(first_name)").label("first_name")],
        unique=False,
        postgresql_ops={"first_name": "text_pattern_ops"},
    )
    op.create_index(
        "ix_customers_search_last_name",
        "customers",
        [sa.literal_column("lower(last_name)").label("last_name")],
        unique=False,
        postgresql_ops={"last_name": "text_pattern_ops"},
    )
    op.create_index(
        "ix_customers_search_phone",
        "customers",
        [sa.literal_column("phone").label("phone")],
        unique=False,
        postgresql_ops={"phone": "text_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_customers_search_phone", table_name="customers", postgresql_ops={"phone": "text_pattern_ops"})
    op.drop_index(
        "ix_customers_search_last_name", table_name="customers", postgresql_ops={"last_name": "text_pattern_ops"}
    )
    op.drop_index(
        "ix_customers_search_first_name", table_name="customers", postgresql_ops={"first_name": "text_pattern_ops"}
    )
    op.drop_index(
        "ix_customers_search_external_id", table_name="customers", postgresql_ops={"external_id": "text_pattern_ops"}
    )
    op.drop_index("ix_customers_search_email", table_name="customers", postgresql_ops={"email": "text_pattern_ops"})
    op.drop_index("ix_segment_sizes_segment_id_snapshot_taken_at", table_name="segment_sizes")
    op.drop_table("segment_sizes")
    op.drop_table("segments")
