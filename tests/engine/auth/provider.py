"""A real OpenID provider on loopback for the tests (`oidc-provider-mock`), and a way to get ID tokens from it.

The provider signs ID tokens with its own RSA key and publishes it at its JWKS endpoint, exactly as Google
does; any client id is accepted. Users are pre-authorized: posting `sub` to the authorization endpoint
stands for the person clicking "sign in".
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import werkzeug.serving
from oidc_provider_mock import User, app

CLIENT_ID = "xeno-tests"
CLIENT_SECRET = "xeno-tests-secret"

ANA = "ana@shop.example"  # verified, in the allowed domain
BOSS = "boss@shop.example"  # verified, on the admin list
EVE = "eve@elsewhere.example"  # verified, outside the allowed domain
UNVERIFIED = "mallory@shop.example"  # in the allowed domain, but the provider has not verified the address

USERS = [
    User(sub=ANA, claims={"email": ANA, "email_verified": True, "name": "Ana Lima"}),
    User(sub=BOSS, claims={"email": BOSS, "email_verified": True, "name": "The Boss"}),
    User(sub=EVE, claims={"email": EVE, "email_verified": True, "name": "Eve"}),
    User(sub=UNVERIFIED, claims={"email": UNVERIFIED, "email_verified": False}),
]


@contextmanager
def running_provider(id_token_lifetime: timedelta = timedelta(hours=1)) -> Iterator[str]:
    """A provider on a free loopback port; yields its issuer URL. It listens on 127.0.0.1, not `localhost`
    (the library's own runner), which a machine without an /etc/hosts entry cannot resolve."""
    provider = app(user_claims=USERS, access_token_max_age=id_token_lifetime)
    server = werkzeug.serving.make_server("127.0.0.1", 0, provider, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def authorize(authorization_url: str, sub: str) -> str:
    """Sign in as `sub` at the provider's page; the URL the provider redirects the browser to."""
    answer = httpx.post(authorization_url, data={"sub": sub})
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def id_token_from(issuer: str, sub: str, client_id: str = CLIENT_ID, nonce: str | None = None) -> str:
    """An ID token the provider issues to `client_id` for `sub`, through the authorization code flow."""
    redirect_uri = "http://127.0.0.1:9/callback"
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid email profile",
    }
    location = authorize(
        str(
            httpx.URL(
                f"{issuer}/oauth2/authorize", params={**query, "state": "s", **({"nonce": nonce} if nonce else {})}
            )
        ),
        sub,
    )
    code = parse_qs(urlsplit(location).query)["code"][0]
    answer = httpx.post(
        f"{issuer}/oauth2/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
        auth=(client_id, CLIENT_SECRET),
    )
    answer.raise_for_status()
    return str(answer.json()["id_token"])
