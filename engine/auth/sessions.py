"""Sessions: what a sign-in gives, how it is kept alive, and how it ends.

A sign-in starts a session and hands out a pair: an access token (a JWT, minutes long) and a refresh
token (opaque, `xr_` + 32 random bytes, kept only as its SHA-256). Refreshing spends the refresh token
and hands out the next pair in the same session. A spent refresh token presented again means two parties
hold it, so the whole session ends — the thief's tokens and the owner's alike. Sign-out ends it too.

Except within `refresh_reuse_interval_s` (30 s) of its first use: then a spent token gets a fresh pair of its
session, as Auth0's "reuse interval" does. Two tabs of one browser that open at once (tabs restored, a link opened
while another tab reloads) present the same cookie's token, and the second must not sign both out. The price: a
thief who presents a copy within that window of the owner's refresh is not caught by it (a copy presented later
still is, and ends the session).

A session may hold more than one rotation chain: `browser_refresh_token` starts a second one for a browser
to keep in an http-only cookie (the dashboard's reload), rotating on its own, ending with the session.

Every access token names its session, and a request is only let in while that session is live and its
user enabled, so sign-out, reuse detection and disabling a user take effect at once.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, func, insert, select, update

from engine.auth import audit
from engine.auth.access_tokens import issue_access_token, verify_access_token
from engine.auth.errors import InvalidCredentials, RefreshTokenReused
from engine.auth.users import User, get_user, user_from_row
from engine.schema import auth_sessions, refresh_tokens, users
from engine.settings import Settings

REFRESH_TOKEN_PREFIX = "xr_"  # noqa: S105 - a marker, not a secret


@dataclass(frozen=True)
class Tokens:
    """What a sign-in or a refresh hands out."""

    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    session_id: uuid.UUID
    user: User


def start_session(conn: Connection, settings: Settings, user: User, method: str) -> Tokens:
    """Open a session for `user` (signed in by `method`: oidc, token-exchange, dev) and issue its tokens."""
    session_id = uuid.uuid4()
    conn.execute(insert(auth_sessions).values(id=session_id, user_id=user.id, method=method))
    return _issue(conn, settings, user, session_id)


def refresh_session(
    db: Engine, settings: Settings, refresh_token: str, ip: str | None = None, now: datetime | None = None
) -> Tokens:
    """Spend `refresh_token` and issue the next pair of its session (at `now`, the current time unless given).

    Raises `RefreshTokenReused` (after ending the session, and recording it) for a token spent longer than the
    reuse interval ago, and `InvalidCredentials` for an unknown, expired or ended one.
    """
    with db.begin() as conn:
        tokens = _spend(conn, settings, refresh_token, ip, now or datetime.now(UTC))
    if tokens is None:
        raise RefreshTokenReused(
            "this refresh token was already used, so it may have been stolen: the session has been ended; sign in again"
        )
    return tokens


def browser_refresh_token(db: Engine, settings: Settings, access_token: str) -> tuple[str, datetime]:
    """A new refresh token (and its expiry) in the live session `access_token` names: a second rotation chain,
    so the browser and the server holding the first one never spend each other's tokens."""
    claims = verify_access_token(settings, access_token)
    authenticate(db, settings, access_token)
    with db.begin() as conn:
        return _new_refresh_token(conn, settings, claims.session_id)


def end_session(db: Engine, refresh_token: str, reason: str = "signed out") -> User | None:
    """End the session a refresh token (spent or not) belongs to; its user, or None if none matched."""
    with db.begin() as conn:
        row = conn.execute(
            select(auth_sessions.c.id, auth_sessions.c.user_id)
            .join(refresh_tokens, refresh_tokens.c.session_id == auth_sessions.c.id)
            .where(refresh_tokens.c.token_hash == _hash(refresh_token), auth_sessions.c.revoked_at.is_(None))
        ).one_or_none()
        if row is None:
            return None
        _end(conn, row.id, reason)
        return get_user(conn, row.user_id)


def authenticate(db: Engine, settings: Settings, access_token: str) -> User:
    """The user an access token speaks for, provided its session is live and the user enabled."""
    claims = verify_access_token(settings, access_token)
    with db.connect() as conn:
        row = conn.execute(
            select(*users.c, auth_sessions.c.revoked_at.label("session_revoked_at"))
            .join(auth_sessions, auth_sessions.c.user_id == users.c.id)
            .where(users.c.id == claims.user_id, auth_sessions.c.id == claims.session_id)
        ).one_or_none()
    if row is None:
        raise InvalidCredentials("the access token names no known session")
    if row.session_revoked_at is not None:
        raise InvalidCredentials("this session has ended; sign in again")
    user = user_from_row(row)
    if user.disabled:
        raise InvalidCredentials("this account is disabled")
    return user


def _spend(conn: Connection, settings: Settings, refresh_token: str, ip: str | None, now: datetime) -> Tokens | None:
    """The next pair, or None when the token was spent before the reuse interval (its session is then ended)."""
    row = conn.execute(
        select(
            refresh_tokens.c.id,
            refresh_tokens.c.session_id,
            refresh_tokens.c.expires_at,
            refresh_tokens.c.used_at,
            auth_sessions.c.revoked_at,
            auth_sessions.c.user_id,
        )
        .join(auth_sessions, auth_sessions.c.id == refresh_tokens.c.session_id)
        .where(refresh_tokens.c.token_hash == _hash(refresh_token))
        .with_for_update(of=refresh_tokens)
    ).one_or_none()
    if row is None:
        raise InvalidCredentials("unknown refresh token")
    if row.revoked_at is not None:
        raise InvalidCredentials("this session has ended; sign in again")
    user = get_user(conn, row.user_id)
    if row.used_at is not None and now - row.used_at > timedelta(seconds=settings.refresh_reuse_interval_s):
        _end(conn, row.session_id, "refresh token reused")
        detail = {"session_id": str(row.session_id)}
        audit.record(conn, "system", audit.SESSION_REUSE_DETECTED, user.email if user else None, detail, ip)
        return None
    if row.expires_at <= now:
        raise InvalidCredentials("the refresh token has expired; sign in again")
    if user is None or user.disabled:
        raise InvalidCredentials("this account is disabled")
    if row.used_at is None:  # a presentation within the reuse interval keeps the first use's time: no sliding
        conn.execute(update(refresh_tokens).where(refresh_tokens.c.id == row.id).values(used_at=now))
    return _issue(conn, settings, user, row.session_id)


def _issue(conn: Connection, settings: Settings, user: User, session_id: uuid.UUID) -> Tokens:
    refresh_token, refresh_expires_at = _new_refresh_token(conn, settings, session_id)
    access_token, access_expires_at = issue_access_token(settings, user.id, user.role, session_id)
    return Tokens(access_token, access_expires_at, refresh_token, refresh_expires_at, session_id, user)


def _new_refresh_token(conn: Connection, settings: Settings, session_id: uuid.UUID) -> tuple[str, datetime]:
    refresh_token = REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)
    refresh_expires_at = datetime.now(UTC) + timedelta(days=settings.refresh_token_days)
    conn.execute(
        insert(refresh_tokens).values(
            token_hash=_hash(refresh_token), session_id=session_id, expires_at=refresh_expires_at
        )
    )
    return refresh_token, refresh_expires_at


def _end(conn: Connection, session_id: uuid.UUID, reason: str) -> None:
    conn.execute(
        update(auth_sessions)
        .where(auth_sessions.c.id == session_id, auth_sessions.c.revoked_at.is_(None))
        .values(revoked_at=func.now(), revoked_reason=reason)
    )


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
