"""The people who use the product: one row per e-mail address, with a role, that can be disabled.

E-mail addresses are stored lower-cased, so `Ana@Shop.com` and `ana@shop.com` are one person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from engine.auth.roles import Role
from engine.errors import Conflict
from engine.schema import auth_sessions, users


@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str | None
    role: Role
    created_at: datetime
    last_sign_in_at: datetime | None
    disabled_at: datetime | None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None


class UserExists(Conflict):
    """A user with this e-mail address is already there."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def user_from_row(row: object) -> User:
    mapping = row._mapping  # type: ignore[attr-defined]
    return User(**{name: mapping[name] for name in _FIELDS} | {"role": Role(mapping["role"])})


def get_user(db: Engine | Connection, user_id: int) -> User | None:
    return _one(db, select(*_columns()).where(users.c.id == user_id))


def get_user_by_email(db: Engine | Connection, email: str) -> User | None:
    return _one(db, select(*_columns()).where(users.c.email == normalize_email(email)))


def list_users(db: Engine) -> list[User]:
    with db.connect() as conn:
        return [user_from_row(row) for row in conn.execute(select(*_columns()).order_by(users.c.id))]


def create_user(conn: Connection, email: str, role: Role, name: str | None = None) -> User:
    """Add someone before they first sign in (which also lets them sign in). Raises `UserExists`."""
    row = conn.execute(
        pg_insert(users)
        .values(email=normalize_email(email), role=role.value, name=name)
        .on_conflict_do_nothing(index_elements=[users.c.email])
        .returning(*_columns())
    ).one_or_none()
    if row is None:
        raise UserExists(f"a user with e-mail {normalize_email(email)} already exists")
    return user_from_row(row)


def record_sign_in(conn: Connection, email: str, name: str | None, role: Role) -> User:
    """Create or update the user who just signed in, with `role`, and stamp the sign-in time."""
    values = {"email": normalize_email(email), "role": role.value, "last_sign_in_at": func.now()}
    statement = pg_insert(users).values(**values, name=name)
    row = conn.execute(
        statement.on_conflict_do_update(
            index_elements=[users.c.email],
            set_={
                "role": statement.excluded.role,
                "last_sign_in_at": statement.excluded.last_sign_in_at,
                "name": func.coalesce(statement.excluded.name, users.c.name),
            },
        ).returning(*_columns())
    ).one()
    return user_from_row(row)


def set_role(conn: Connection, user_id: int, role: Role) -> User | None:
    row = conn.execute(
        update(users).where(users.c.id == user_id).values(role=role.value).returning(*_columns())
    ).one_or_none()
    return user_from_row(row) if row else None


def set_disabled(conn: Connection, user_id: int, disabled: bool) -> User | None:
    """Disable (ending every session at once) or enable a user; None when there is no such user."""
    row = conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(disabled_at=func.coalesce(users.c.disabled_at, func.now()) if disabled else None)
        .returning(*_columns())
    ).one_or_none()
    if row is not None and disabled:
        conn.execute(
            update(auth_sessions)
            .where(auth_sessions.c.user_id == user_id, auth_sessions.c.revoked_at.is_(None))
            .values(revoked_at=func.now(), revoked_reason="user disabled")
        )
    return user_from_row(row) if row else None


_FIELDS = ("id", "email", "name", "role", "created_at", "last_sign_in_at", "disabled_at")


def _columns() -> tuple:
    return tuple(users.c[name] for name in _FIELDS)


def _one(db: Engine | Connection, statement: object) -> User | None:
    if isinstance(db, Engine):
        with db.connect() as conn:
            return _one(conn, statement)
    row = db.execute(statement).one_or_none()  # type: ignore[call-overload]
    return user_from_row(row) if row else None
