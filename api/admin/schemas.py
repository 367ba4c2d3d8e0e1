"""What the admin routes take and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints
from pydantic.config import JsonDict

from engine.auth.audit import AuditEntry
from engine.auth.roles import Role
from engine.keys import WriteKey
from engine.postgres_safe import NO_NUL, PostgresText


class NewUser(BaseModel):
    """Someone to let in before their first sign-in, with the role they will have."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "ana@shop.example", "role": "marketer"}]})

    email: EmailStr
    role: Role
    name: Annotated[str, StringConstraints(max_length=200), NO_NUL] | None = None


class UserChange(BaseModel):
    """A new role, and/or disabling (which ends every session at once) or enabling again."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"role": "analyst"}, {"disabled": True}]})

    role: Role | None = None
    disabled: bool | None = None


class NewKey(BaseModel):
    """Who or what the write key is for."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "web shop"}]})

    name: PostgresText = Field(min_length=1, max_length=200)


_KEY_EXAMPLE: JsonDict = {
    "id": 3,
    "name": "web shop",
    "prefix": "9f86d081",
    "scope": "ingest",
    "created_at": "2026-11-25T10:00:00Z",
    "last_used_at": None,
    "revoked_at": None,
}


class KeyOut(BaseModel):
    """A write key, never with its secret."""

    model_config = ConfigDict(json_schema_extra={"examples": [_KEY_EXAMPLE]})

    id: int
    name: str
    prefix: str
    scope: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: WriteKey) -> KeyOut:
        return cls(**vars(key))


class CreatedKey(BaseModel):
    """A new write key with its secret, shown this once: only its hash is stored."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"key": _KEY_EXAMPLE, "secret": "xk_9f86d081_Jm3Qe7vXcW0pLkT2sN8yRb5uHgAaZd"}]}
    )

    key: KeyOut
    secret: str


class AuditEntryOut(BaseModel):
    """One sensitive action: who, what, to what, from where, when."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 41,
                    "at": "2026-11-25T10:02:11Z",
                    "actor": "admin@shop.example",
                    "action": "user.role_changed",
                    "target": "ana@shop.example",
                    "detail": {"from": "viewer", "to": "marketer"},
                    "ip": "203.0.113.7",
                }
            ]
        }
    )

    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]
    ip: str | None

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls(**vars(entry))
