"""Our access tokens: short-lived JWTs signed with HS256 under a key derived from `XENO_SECRET_KEY`.

Only HS256 is accepted. A token whose header names any other algorithm (`none` included) is refused
before its signature is even looked at, as is one without every claim we issue.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt

from engine.auth.errors import InvalidCredentials
from engine.auth.roles import Role
from engine.settings import Settings

ALGORITHM = "HS256"
ISSUER = "xeno-crm"
AUDIENCE = "xeno-api"
REQUIRED_CLAIMS = ["sub", "sid", "role", "exp", "iat", "jti", "iss", "aud"]


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    session_id: UUID
    role: Role
    token_id: str
    expires_at: datetime


def signing_key(settings: Settings) -> bytes:
    """A key for access tokens only, so the secret itself signs nothing directly."""
    return hmac.new(settings.secret_key.get_secret_value().encode(), b"xeno access tokens v1", hashlib.sha256).digest()


def issue_access_token(
    settings: Settings, user_id: int, role: Role, session_id: UUID, now: datetime | None = None
) -> tuple[str, datetime]:
    """A signed access token for the user in this session, and when it expires."""
    issued_at = now or datetime.now(UTC)
    expires_at = issued_at + timedelta(minutes=settings.access_token_minutes)
    claims = {
        "sub": str(user_id),
        "sid": str(session_id),
        "role": role.value,
        "iat": issued_at,
        "exp": expires_at,
        "jti": secrets.token_urlsafe(16),
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    return jwt.encode(claims, signing_key(settings), algorithm=ALGORITHM), expires_at


def verify_access_token(settings: Settings, token: str) -> AccessClaims:
    """The claims of a genuine, unexpired access token; `InvalidCredentials` for anything else."""
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError as exc:
        raise InvalidCredentials("the access token is not a JWT") from exc
    if algorithm != ALGORITHM:
        raise InvalidCredentials(f"access tokens are signed with {ALGORITHM}, not {algorithm!r}")
    try:
        claims = jwt.decode(
            token,
            signing_key(settings),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidCredentials("the access token has expired; refresh it") from exc
    except jwt.PyJWTError as exc:
        raise InvalidCredentials(f"the access token is not valid: {exc}") from exc
    try:
        return AccessClaims(
            user_id=int(claims["sub"]),
            session_id=UUID(claims["sid"]),
            role=Role(claims["role"]),
            token_id=claims["jti"],
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )
    except (TypeError, ValueError) as exc:
        raise InvalidCredentials("the access token's claims are malformed") from exc
