"""Tables of the AI helpers: every call made (the audit trail of what the AI proposed) and the images made.

`ai_calls` keeps each call's input and output, which provider and model answered, how long it took, who
asked, and whether the user accepted the answer, so a team can see what the AI did and how useful it was.
A refused call (text it could not turn into a valid rule) is kept too, with its outcome and the reason.
`ai_images` holds the generated PNGs themselves: a banner is tens of kilobytes, and keeping it in the
database means the API and the AI worker need no shared file system.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

from engine.schema.base import created_at, metadata

AI_CALL_OUTCOMES = ("ok", "refused", "failed")

ai_calls = Table(
    "ai_calls",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("kind", Text, nullable=False),  # segment_rule, messages, image, ...
    Column("input", JSONB, nullable=False),
    Column("output", JSONB),  # unset when refused or failed
    Column("outcome", Text, nullable=False),
    Column("notes", JSONB, nullable=False, server_default="[]"),  # fallbacks, repairs, refusal reasons
    Column("provider", Text, nullable=False),
    Column("model", Text),
    Column("latency_ms", Integer, nullable=False),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="SET NULL")),
    Column("accepted", Boolean),  # unset until the user says
    Column("feedback", Text),
    Column("feedback_at", DateTime(timezone=True)),
    created_at(),
    CheckConstraint("outcome IN ('ok', 'refused', 'failed')", name="outcome"),
)
Index("ix_ai_calls_user_id_created_at", ai_calls.c.user_id, ai_calls.c.created_at)
Index("ix_ai_calls_kind_created_at", ai_calls.c.kind, ai_calls.c.created_at)

ai_images = Table(
    "ai_images",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("call_id", BigInteger, ForeignKey("ai_calls.id", ondelete="SET NULL")),
    Column("campaign_id", BigInteger, ForeignKey("campaigns.id", ondelete="SET NULL")),
    Column("prompt", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("model", Text),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("png", LargeBinary, nullable=False),
    Column("created_by", BigInteger, ForeignKey("users.id", ondelete="SET NULL")),
    created_at(),
)
Index("ix_ai_images_campaign_id", ai_images.c.campaign_id)
