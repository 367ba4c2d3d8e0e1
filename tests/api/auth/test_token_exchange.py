"""A client that signed the user in itself (the dashboard's `st.login`) trades the ID token for our tokens."""

from __future__ import annotations

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from tests.api.auth.helpers import bearer
from tests.engine.auth.provider import ANA, CLIENT_ID, EVE, id_token_from


def test_a_genuine_id_token_for_our_client_is_traded_for_our_tokens(client: TestClient, oidc_issuer: str) -> None:
    answer = client.post("/v1/auth/token-exchange", json={"id_token": id_token_from(oidc_issuer, ANA)})

    assert answer.status_code == 200
    assert client.get("/v1/auth/me", headers=bearer(answer.json()["access_token"])).json()["email"] == ANA


def test_the_nonce_is_checked_when_the_client_sends_it(client: TestClient, oidc_issuer: str) -> None:
    token = id_token_from(oidc_issuer, ANA, nonce="the-dashboards-nonce")

    refused = client.post("/v1/auth/token-exchange", json={"id_token": token, "nonce": "another"})
    accepted = client.post("/v1/auth/token-exchange", json={"id_token": token, "nonce": "the-dashboards-nonce"})

    assert (refused.status_code, accepted.status_code) == (401, 200)


def test_a_forged_id_token_is_refused(client: TestClient, oidc_issuer: str) -> None:
    attackers_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {"iss": oidc_issuer, "aud": CLIENT_ID, "sub": ANA, "email": ANA, "email_verified": True}
    forged = jwt.encode(claims | {"iat": 1_700_000_000, "exp": 4_100_000_000}, attackers_key, algorithm="RS256")

    answer = client.post("/v1/auth/token-exchange", json={"id_token": forged})

    assert answer.status_code == 401
    assert answer.json() == {
        "error": "unauthorized",
        "detail": "the ID token is not valid: Signature verification failed",
    }


def test_an_id_token_issued_to_another_app_is_refused(client: TestClient, oidc_issuer: str) -> None:
    token = id_token_from(oidc_issuer, ANA, client_id="some-other-app")

    assert client.post("/v1/auth/token-exchange", json={"id_token": token}).status_code == 401


def test_an_address_outside_the_allowed_domains_is_refused(client: TestClient, oidc_issuer: str) -> None:
    answer = client.post("/v1/auth/token-exchange", json={"id_token": id_token_from(oidc_issuer, EVE)})

    assert answer.status_code == 403
    assert "not an allowed domain" in answer.json()["detail"]


def test_garbage_is_refused_as_unauthorized_not_a_crash(client: TestClient) -> None:
    answer = client.post("/v1/auth/token-exchange", json={"id_token": "not.a.jwt"})

    assert answer.status_code == 401
