"""Tables of sign-in: the people who use the product, their sessions and refresh tokens, and the audit log.

A session is one sign-in; its refresh tokens form one rotation family: each use of a refresh token
spends it and issues the next, and presenting a spent one ends the whole session.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from engine.schema.base import created_at, metadata

users = Table(
    "users",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("email", Text, nullable=False, unique=True),  # kept lower-cased
    Column("name", Text),
    Column("role", Text, nullable=False),
    created_at(),
    Column("last_sign_in_at", DateTime(timezone=True)),
    Column("disabled_at", DateTime(timezone=True)),
    CheckConstraint("role IN ('admin', 'marketer', 'analyst', 'viewer')", name="role"),
)

auth_sessions = Table(
    "auth_sessions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("method", Text, nullable=False),  # oidc, token-exchange, dev
    created_at(),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoked_reason", Text),
)
Index("ix_auth_sessions_user_id", auth_sessions.c.user_id)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("session_id", UUID(as_uuid=True), ForeignKey("auth_sessions.id", ondelete="CASCADE"), nullable=False),
    created_at(),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
)
Index("ix_refresh_tokens_session_id", refresh_tokens.c.session_id)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", Text, nullable=False),  # an e-mail, "cli:<os user>", or "system"
    Column("action", Text, nullable=False),  # e.g. user.signed_in, key.created, user.role_changed
    Column("target", Text),
    Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("ip", Text),
)
Index("ix_audit_log_action_at", audit_log.c.action, audit_log.c.at)
