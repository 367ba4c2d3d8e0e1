"""ID tokens from the OpenID provider: only genuine, unexpired ones issued for us, with the right nonce."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from engine.auth.errors import InvalidCredentials
from engine.auth.oidc import OidcProvider, PendingLogin, remember_login, take_login
from engine.settings import get_settings
from tests.engine.auth.provider import ANA, CLIENT_ID, CLIENT_SECRET, id_token_from


@pytest.fixture
def provider(oidc_issuer: str) -> OidcProvider:
    return OidcProvider(oidc_issuer, CLIENT_ID, CLIENT_SECRET)


def forged_claims(issuer: str) -> dict[str, object]:
    now = datetime.now(UTC)
    return {"iss": issuer, "aud": CLIENT_ID, "sub": ANA, "email": ANA, "email_verified": True,
            "iat": now, "exp": now + timedelta(minutes=5)}  # fmt: skip


def hs256_by_hand(claims: dict[str, object], secret: bytes) -> str:
    """A MAC-signed JWT built without PyJWT, which rightly refuses a PEM key as an HMAC secret."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    body = {name: int(value.timestamp()) if isinstance(value, datetime) else value for name, value in claims.items()}
    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{b64(json.dumps(body).encode())}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def test_a_genuine_id_token_gives_the_verified_identity(provider: OidcProvider, oidc_issuer: str) -> None:
    identity = provider.verify_id_token(id_token_from(oidc_issuer, ANA, nonce="n-1"), nonce="n-1")

    assert (identity.email, identity.email_verified, identity.name) == (ANA, True, "Ana Lima")


def test_an_id_token_signed_with_a_key_the_provider_does_not_hold_is_refused(
    provider: OidcProvider, oidc_issuer: str
) -> None:
    attackers_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(forged_claims(oidc_issuer), attackers_key, algorithm="RS256")

    with pytest.raises(InvalidCredentials, match="Signature verification failed"):
        provider.verify_id_token(forged, nonce=None)


def test_an_unsigned_id_token_is_refused(provider: OidcProvider, oidc_issuer: str) -> None:
    with pytest.raises(InvalidCredentials, match="not 'none'"):
        provider.verify_id_token(jwt.encode(forged_claims(oidc_issuer), "", algorithm="none"), nonce=None)


def test_an_id_token_mac_signed_with_the_providers_public_key_is_refused(
    provider: OidcProvider, oidc_issuer: str
) -> None:
    public_pem = provider._signing_key(None).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    token = hs256_by_hand(forged_claims(oidc_issuer), secret=public_pem)

    with pytest.raises(InvalidCredentials, match="not 'HS256'"):
        provider.verify_id_token(token, nonce=None)


def test_an_id_token_issued_to_another_client_is_refused(provider: OidcProvider, oidc_issuer: str) -> None:
    with pytest.raises(InvalidCredentials, match=r"(?i)audience"):
        provider.verify_id_token(id_token_from(oidc_issuer, ANA, client_id="another-app"), nonce=None)


def test_an_expired_id_token_is_refused(expired_token_issuer: str) -> None:
    provider = OidcProvider(expired_token_issuer, CLIENT_ID, CLIENT_SECRET)

    with pytest.raises(InvalidCredentials, match="expired"):
        provider.verify_id_token(id_token_from(expired_token_issuer, ANA), nonce=None)


def test_an_id_token_from_another_sign_in_is_refused_by_its_nonce(provider: OidcProvider, oidc_issuer: str) -> None:
    with pytest.raises(InvalidCredentials, match="nonce"):
        provider.verify_id_token(id_token_from(oidc_issuer, ANA, nonce="theirs"), nonce="ours")


def test_the_authorization_url_asks_for_a_code_with_pkce_state_and_nonce(provider: OidcProvider) -> None:
    login = provider.start_login("http://127.0.0.1:8000/v1/auth/callback")

    query = dict(param.split("=", 1) for param in login.url.split("?", 1)[1].split("&"))
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert query["state"] == login.state
    assert query["nonce"] == login.nonce
    assert login.code_verifier not in login.url


def test_a_pending_sign_in_can_be_finished_only_once(redis_client: redis.Redis) -> None:
    settings = get_settings()
    remember_login(redis_client, settings, PendingLogin(url="u", state="st", nonce="no", code_verifier="cv"))

    assert take_login(redis_client, settings, "st") == ("no", "cv")
    with pytest.raises(InvalidCredentials, match="already finished"):
        take_login(redis_client, settings, "st")
