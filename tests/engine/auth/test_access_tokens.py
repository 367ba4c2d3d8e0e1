"""Access tokens: only our own genuine, unexpired HS256 tokens with every claim are believed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from pydantic import SecretStr

from engine.auth.access_tokens import AUDIENCE, ISSUER, issue_access_token, signing_key, verify_access_token
from engine.auth.errors import InvalidCredentials
from engine.auth.roles import Role
from engine.settings import get_settings

SESSION = uuid.uuid4()


def claims(**changes: object) -> dict[str, object]:
    now = datetime.now(UTC)
    base: dict[str, object] = {
        "sub": "7", "sid": str(SESSION), "role": "admin", "iat": now, "exp": now + timedelta(minutes=5),
        "jti": "j1", "iss": ISSUER, "aud": AUDIENCE,
    }  # fmt: skip
    return {**base, **changes}


def test_a_token_we_issued_names_its_user_role_and_session() -> None:
    token, expires_at = issue_access_token(get_settings(), 7, Role.marketer, SESSION)

    verified = verify_access_token(get_settings(), token)

    assert (verified.user_id, verified.role, verified.session_id) == (7, Role.marketer, SESSION)
    assert verified.expires_at == expires_at.replace(microsecond=0)
    assert timedelta(minutes=14) < expires_at - datetime.now(UTC) <= timedelta(minutes=15)


def test_a_token_signed_with_another_key_is_refused() -> None:
    other = get_settings().model_copy(update={"secret_key": SecretStr("someone-elses-secret")})
    token, _ = issue_access_token(other, 7, Role.admin, SESSION)

    with pytest.raises(InvalidCredentials, match="not valid"):
        verify_access_token(get_settings(), token)


def test_an_unsigned_token_with_alg_none_is_refused() -> None:
    token = jwt.encode(claims(), "", algorithm="none")

    with pytest.raises(InvalidCredentials, match="not 'none'"):
        verify_access_token(get_settings(), token)


def test_a_token_with_our_key_but_another_algorithm_is_refused() -> None:
    token = jwt.encode(claims(), signing_key(get_settings()), algorithm="HS512")

    with pytest.raises(InvalidCredentials, match="not 'HS512'"):
        verify_access_token(get_settings(), token)


def test_an_expired_token_is_refused() -> None:
    token, _ = issue_access_token(get_settings(), 7, Role.admin, SESSION, now=datetime.now(UTC) - timedelta(hours=1))

    with pytest.raises(InvalidCredentials, match="expired"):
        verify_access_token(get_settings(), token)


@pytest.mark.parametrize("claim", ["sid", "jti", "aud", "iss", "exp"])
def test_a_genuine_token_missing_a_claim_is_refused(claim: str) -> None:
    incomplete = {name: value for name, value in claims().items() if name != claim}
    token = jwt.encode(incomplete, signing_key(get_settings()), algorithm="HS256")

    with pytest.raises(InvalidCredentials):
        verify_access_token(get_settings(), token)


def test_a_token_for_another_audience_is_refused() -> None:
    token = jwt.encode(claims(aud="someone-else"), signing_key(get_settings()), algorithm="HS256")

    with pytest.raises(InvalidCredentials, match=r"(?i)audience"):
        verify_access_token(get_settings(), token)
