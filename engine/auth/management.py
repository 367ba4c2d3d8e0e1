"""Managing users and write keys, each change written to the audit log: shared by the admin API and the CLI.

`actor` is who asks (an admin's e-mail, or `cli:<os user>`); `ip` where from, when known.
"""

from __future__ import annotations

from sqlalchemy import Engine

from engine import keys as write_keys
from engine.auth import audit
from engine.auth.roles import Role
from engine.auth.users import User, create_user, get_user, set_disabled, set_role


def add_user(db: Engine, email: str, role: Role, name: str | None, actor: str, ip: str | None = None) -> User:
    """Let someone in before their first sign-in. Raises `UserExists`."""
    with db.begin() as conn:
        user = create_user(conn, email, role, name)
        audit.record(conn, actor, audit.USER_CREATED, user.email, {"role": role}, ip)
    return user


def change_role(db: Engine, user_id: int, role: Role, actor: str, ip: str | None = None) -> User | None:
    with db.begin() as conn:
        before = get_user(conn, user_id)
        if before is None:
            return None
        user = set_role(conn, user_id, role)
        if before.role != role:
            audit.record(conn, actor, audit.USER_ROLE_CHANGED, before.email, {"from": before.role, "to": role}, ip)
    return user


def change_disabled(db: Engine, user_id: int, disabled: bool, actor: str, ip: str | None = None) -> User | None:
    """Disable (ending the user's sessions) or enable again; None when there is no such user."""
    with db.begin() as conn:
        before = get_user(conn, user_id)
        if before is None:
            return None
        user = set_disabled(conn, user_id, disabled)
        if before.disabled != disabled:
            audit.record(conn, actor, audit.USER_DISABLED if disabled else audit.USER_ENABLED, before.email, ip=ip)
    return user


def create_write_key(db: Engine, name: str, actor: str, ip: str | None = None) -> write_keys.NewKey:
    new = write_keys.create_key(db, name)
    audit.record(db, actor, audit.KEY_CREATED, f"key:{new.key.id}", {"name": name, "prefix": new.key.prefix}, ip)
    return new


def revoke_write_key(db: Engine, key_id: int, actor: str, ip: str | None = None) -> write_keys.WriteKey | None:
    key = write_keys.revoke_key(db, key_id)
    if key is not None:
        audit.record(db, actor, audit.KEY_REVOKED, f"key:{key.id}", {"name": key.name, "prefix": key.prefix}, ip)
    return key
