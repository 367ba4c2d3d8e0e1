"""The audit log: who did what sensitive thing, to what, from where, and when.

Actions are named `<thing>.<what happened>` (`user.signed_in`, `key.created`, `user.role_changed`,
`campaign.launched`); the actor is an e-mail address, `cli:<os user>` or `system`. Record an entry in
the same transaction as the change it describes, so neither exists without the other.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from engine.schema import audit_log

USER_SIGNED_IN = "user.signed_in"
USER_SIGNED_OUT = "user.signed_out"
USER_SIGN_IN_REFUSED = "user.sign_in_refused"
USER_CREATED = "user.created"
USER_ROLE_CHANGED = "user.role_changed"
USER_DISABLED = "user.disabled"
USER_ENABLED = "user.enabled"
SESSION_REUSE_DETECTED = "session.refresh_token_reused"
KEY_CREATED = "key.created"
KEY_REVOKED = "key.revoked"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]
    ip: str | None


def cli_actor() -> str:
    """The actor of a command run from a terminal: the operating-system user."""
    return f"cli:{getpass.getuser()}"


def record(
    db: Engine | Connection,
    actor: str,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> None:
    """Append an entry; given a connection, inside that connection's transaction."""
    statement = insert(audit_log).values(actor=actor, action=action, target=target, detail=detail or {}, ip=ip)
    if isinstance(db, Engine):
        with db.begin() as conn:
            conn.execute(statement)
    else:
        db.execute(statement)


def list_entries(
    db: Engine, *, limit: int = 100, before_id: int | None = None, action: str | None = None
) -> list[AuditEntry]:
    """The newest entries first; page back with `before_id` (the smallest id of the previous page)."""
    query = select(*audit_log.c).order_by(audit_log.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    with db.connect() as conn:
        return [AuditEntry(**row._mapping) for row in conn.execute(query)]
