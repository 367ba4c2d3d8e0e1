"""The ways sign-in and credentials fail, each mapped by the API to its own status code."""

from __future__ import annotations

from engine.errors import Forbidden


class AuthError(Exception):
    """A credential or a sign-in that must be refused; the message is safe to show the caller."""


class InvalidCredentials(AuthError):
    """The token, key or ID token is missing, malformed, forged, expired or revoked (401)."""


class RefreshTokenReused(InvalidCredentials):
    """A spent refresh token came back: someone else may hold it, so its session has been ended (401)."""


class SignInRefused(AuthError, Forbidden):
    """The identity is genuine but this person may not sign in (403)."""


class ProviderUnavailable(AuthError):
    """The OpenID provider is not configured, unreachable or answered nonsense (503)."""
