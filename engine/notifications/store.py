"""Notifications as stored: recording one per event (never twice), and what each user sees and has read.

A user sees a notification when their role is at least its `min_role` (viewer < analyst < marketer <
admin), or when it names them (`user_id`: the creator of the campaign it is about). Read state is per user,
so one person marking a notification read leaves it unread for everyone else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import BigInteger, ColumnElement, Connection, Engine, Select, exists, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from engine.auth.roles import Role
from engine.auth.users import User
from engine.schema import notification_reads, notifications

Kind = Literal["campaign_completed", "campaign_failed", "delivery_failures", "dead_letters", "snapshot_stale"]
Severity = Literal["info", "warning", "error"]


@dataclass(frozen=True)
class NewNotification:
    """An event to tell people about; `dedupe_key` names the event, so it is recorded only once."""

    kind: Kind
    severity: Severity
    title: str
    body: str
    dedupe_key: str
    min_role: Role
    campaign_id: int | None = None
    user_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Notification:
    """A notification as one user sees it: `read_at` is when that user read it."""

    id: int
    kind: Kind
    severity: Severity
    title: str
    body: str
    campaign_id: int | None
    detail: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


def record(conn: Connection, new: NewNotification, at: datetime) -> int | None:
    """Record the event in the caller's transaction; its id, or None when it was already recorded."""
    statement = (
        pg_insert(notifications)
        .values(
            kind=new.kind,
            severity=new.severity,
            title=new.title,
            body=new.body,
            dedupe_key=new.dedupe_key,
            min_role=new.min_role.value,
            campaign_id=new.campaign_id,
            user_id=new.user_id,
            detail=new.detail,
            created_at=at,
        )
        .on_conflict_do_nothing(index_elements=[notifications.c.dedupe_key])
        .returning(notifications.c.id)
    )
    return conn.execute(statement).scalar_one_or_none()


def _visible_to(user: User) -> ColumnElement[bool]:
    roles = [role.value for role in Role if user.role.includes(role)]
    return or_(notifications.c.min_role.in_(roles), notifications.c.user_id == user.id)


def _read_by(user: User) -> ColumnElement[bool]:
    return exists().where(
        notification_reads.c.notification_id == notifications.c.id, notification_reads.c.user_id == user.id
    )


def _select_for(user: User) -> Select[Any]:
    read_at = (
        select(notification_reads.c.read_at)
        .where(notification_reads.c.notification_id == notifications.c.id, notification_reads.c.user_id == user.id)
        .scalar_subquery()
    )
    columns = [getattr(notifications.c, name) for name in Notification.__dataclass_fields__ if name != "read_at"]
    return select(*columns, read_at.label("read_at")).where(_visible_to(user))


def list_for_user(
    db: Engine, user: User, *, unread_only: bool = False, limit: int = 50, before_id: int | None = None
) -> list[Notification]:
    """The user's notifications, newest first; `before_id` pages on from the last one of a previous page."""
    query = _select_for(user).order_by(notifications.c.id.desc()).limit(limit)
    if unread_only:
        query = query.where(~_read_by(user))
    if before_id is not None:
        query = query.where(notifications.c.id < before_id)
    with db.connect() as conn:
        return [Notification(**row._mapping) for row in conn.execute(query)]


def newer_than(db: Engine, user: User, after_id: int, limit: int = 100) -> list[Notification]:
    """The user's notifications after `after_id`, oldest first (what a live stream sends next)."""
    query = _select_for(user).where(notifications.c.id > after_id).order_by(notifications.c.id).limit(limit)
    with db.connect() as conn:
        return [Notification(**row._mapping) for row in conn.execute(query)]


def latest_id(db: Engine, user: User) -> int:
    """The id of the user's newest notification (0 when they have none)."""
    with db.connect() as conn:
        return int(conn.scalar(select(func.max(notifications.c.id)).where(_visible_to(user))) or 0)


def unread_count(db: Engine, user: User) -> int:
    with db.connect() as conn:
        query = select(func.count()).select_from(notifications).where(_visible_to(user), ~_read_by(user))
        return int(conn.scalar(query) or 0)


def get_for_user(db: Engine, user: User, notification_id: int) -> Notification | None:
    """The notification if the user may see it, else None."""
    with db.connect() as conn:
        row = conn.execute(_select_for(user).where(notifications.c.id == notification_id)).one_or_none()
    return None if row is None else Notification(**row._mapping)


def mark_read(db: Engine, user: User, notification_id: int) -> Notification | None:
    """Mark one notification read for the user (again is harmless); None when they may not see it."""
    with db.begin() as conn:
        _mark_read(conn, user, select(notifications.c.id).where(notifications.c.id == notification_id))
    return get_for_user(db, user, notification_id)


def mark_all_read(db: Engine, user: User) -> int:
    """Mark every notification the user sees read; how many were unread."""
    with db.begin() as conn:
        return _mark_read(conn, user, select(notifications.c.id))


def _mark_read(conn: Connection, user: User, ids: Select[tuple[int]]) -> int:
    unread = ids.where(_visible_to(user), ~_read_by(user)).add_columns(literal(user.id, BigInteger))
    statement = pg_insert(notification_reads).from_select(["notification_id", "user_id"], unread)
    marked = statement.on_conflict_do_nothing().returning(notification_reads.c.notification_id)
    return len(conn.execute(marked).all())
