"""Write keys: the credentials integrators ingest with.

A key reads `xk_<prefix>_<secret>`. Only the prefix is kept in clear (to find the row); the secret is kept
as its SHA-256. The secret is 32 random bytes, so a fast hash is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, insert, select, update

from engine.schema import api_keys

KEY_PREFIX = "xk"
CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class WriteKey:
    """A stored key, as shown to people (never with its secret)."""

    id: int
    name: str
    prefix: str
    scope: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class NewKey:
    key: WriteKey
    secret: str  # the whole key string: shown once, at creation


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _split(token: str) -> tuple[str, str] | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def create_key(db: Engine, name: str, scope: str = "ingest") -> NewKey:
    prefix, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
    with db.begin() as conn:
        row = conn.execute(
            insert(api_keys)
            .values(name=name, prefix=prefix, key_hash=_hash(secret), scope=scope)
            .returning(*_columns())
        ).one()
    return NewKey(WriteKey(*row), f"{KEY_PREFIX}_{prefix}_{secret}")


def list_keys(db: Engine) -> list[WriteKey]:
    with db.connect() as conn:
        return [WriteKey(*row) for row in conn.execute(select(*_columns()).order_by(api_keys.c.id))]


def revoke_key(db: Engine, key_id: int) -> WriteKey | None:
    """Revoke a key; returns it, or None when there is no such key. Revoking twice keeps the first time."""
    with db.begin() as conn:
        row = conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id)
            .values(revoked_at=func.coalesce(api_keys.c.revoked_at, func.now()))
            .returning(*_columns())
        ).one_or_none()
    _verified.clear()
    return WriteKey(*row) if row else None


_verified: dict[str, tuple[float, WriteKey]] = {}


def remembered_key(token: str) -> WriteKey | None:
    """The key `token` named at its last successful check, if that was under `CACHE_SECONDS` ago.

    No I/O, so an event loop can ask before it sends the real check (`verify_key`) to a thread.
    """
    cached = _verified.get(token)
    return cached[1] if cached and cached[0] > time.monotonic() else None


def verify_key(db: Engine, token: str, scope: str = "ingest") -> WriteKey | None:
    """The live key `token` names, if its secret matches and it may be used for `scope`.

    A successful check is remembered for a few seconds, so a revocation takes effect within
    `CACHE_SECONDS` in every process (at once in the one that revoked it).
    """
    remembered = remembered_key(token)
    if remembered:
        return remembered if remembered.scope == scope else None
    parts = _split(token)
    if parts is None:
        return None
    prefix, secret = parts
    with db.begin() as conn:
        row = conn.execute(
            select(*_columns(), api_keys.c.key_hash).where(api_keys.c.prefix == prefix, api_keys.c.revoked_at.is_(None))
        ).one_or_none()
        if row is None or not hmac.compare_digest(row.key_hash, _hash(secret)):
            return None
        conn.execute(update(api_keys).where(api_keys.c.id == row.id).values(last_used_at=func.now()))
    key = WriteKey(*row[:-1])
    _verified[token] = (time.monotonic() + CACHE_SECONDS, key)
    return key if key.scope == scope else None


def _columns() -> tuple:
    c = api_keys.c
    return (c.id, c.name, c.prefix, c.scope, c.created_at, c.last_used_at, c.revoked_at)
