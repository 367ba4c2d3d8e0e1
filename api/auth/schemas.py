"""What the sign-in routes take and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints
from pydantic.config import JsonDict

from engine.auth.roles import Role
from engine.auth.sessions import Tokens
from engine.auth.users import User
from engine.postgres_safe import NO_NUL

_REFRESH_EXAMPLE = "xr_3q2-7wD8Qy0mVb1kT9sRzUeHcAfLpNoX4jGiYd5BtM"
_USER_EXAMPLE: JsonDict = {
    "id": 7,
    "email": "ana@shop.example",
    "name": "Ana Lima",
    "role": "marketer",
    "created_at": "2026-11-20T09:12:00Z",
    "last_sign_in_at": "2026-11-25T08:01:00Z",
    "disabled": False,
}


class UserOut(BaseModel):
    """A person who uses the product."""

    model_config = ConfigDict(json_schema_extra={"examples": [_USER_EXAMPLE]})

    id: int
    email: str
    name: str | None
    role: Role
    created_at: datetime
    last_sign_in_at: datetime | None
    disabled: bool

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            created_at=user.created_at,
            last_sign_in_at=user.last_sign_in_at,
            disabled=user.disabled,
        )


class TokenPair(BaseModel):
    """Our tokens: send the access token as `Authorization: Bearer`; trade the refresh token for a new pair
    at `/v1/auth/refresh` before the access token expires. Each refresh token works once."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI3In0.c2lnbmF0dXJl",
                    "token_type": "Bearer",
                    "expires_in": 900,
                    "refresh_token": _REFRESH_EXAMPLE,
                    "refresh_expires_in": 2592000,
                    "user": _USER_EXAMPLE,
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str
    refresh_expires_in: int = Field(description="Seconds until the refresh token expires if unused.")
    user: UserOut

    @classmethod
    def of(cls, tokens: Tokens) -> TokenPair:
        now = datetime.now(tokens.access_expires_at.tzinfo)
        return cls(
            access_token=tokens.access_token,
            expires_in=int((tokens.access_expires_at - now).total_seconds()),
            refresh_token=tokens.refresh_token,
            refresh_expires_in=int((tokens.refresh_expires_at - now).total_seconds()),
            user=UserOut.of(tokens.user),
        )


class TokenExchangeRequest(BaseModel):
    """An ID token the client obtained from our OpenID provider for our client id (e.g. via `st.login`)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id_token": "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJpc3MiOiIuLi4ifQ.c2ln"}]}
    )

    id_token: str = Field(min_length=1, max_length=16_384)
    nonce: str | None = Field(
        None, max_length=512, description="The nonce the client sent to the provider; checked when given."
    )


class DevSignInRequest(BaseModel):
    """Become anyone, with any role: only while the developer sign-in is switched on, on loopback."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "dev@localhost.example", "role": "admin"}]})

    email: EmailStr
    role: Role = Role.admin
    name: Annotated[str, StringConstraints(max_length=200), NO_NUL] | None = None


class RefreshTokenBody(BaseModel):
    """A refresh token from a previous sign-in or refresh."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"refresh_token": _REFRESH_EXAMPLE}]})

    refresh_token: str = Field(min_length=1, max_length=256)


class BrowserRefreshToken(BaseModel):
    """A second refresh token in the caller's session, for the browser to keep in an http-only cookie."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"refresh_token": _REFRESH_EXAMPLE, "expires_in": 2592000}]}
    )

    refresh_token: str
    expires_in: int = Field(description="Seconds until the refresh token expires if unused.")
