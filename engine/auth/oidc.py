"""Sign-in through any OpenID Connect provider (Google by default), found by issuer discovery.

The browser flow is the authorization code flow with PKCE: `start_login` makes the provider URL with a
fresh state, nonce and code verifier (kept in Redis for ten minutes, single use), and `finish_login`
trades the code for an ID token. Whether it arrives that way or from a client that signed the user in
itself, an ID token is only believed after `verify_id_token` checked its signature against the provider's
published keys (asymmetric algorithms only), its issuer, audience (our client id), expiry and nonce.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpx
import jwt
import redis
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client

from engine.auth.errors import InvalidCredentials, ProviderUnavailable, SignInRefused
from engine.auth.signin import Identity
from engine.settings import Settings, revealed

ID_TOKEN_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
SCOPE = "openid email profile"
CLOCK_LEEWAY_SECONDS = 60
METADATA_MAX_AGE_SECONDS = 3600
KEYS_MIN_REFETCH_SECONDS = 30
LOGIN_MAX_AGE_SECONDS = 600


@dataclass(frozen=True)
class PendingLogin:
    """A browser sign-in under way: where to send the browser, and what its return must match."""

    url: str
    state: str
    nonce: str
    code_verifier: str


class OidcProvider:
    """One provider and our client registration with it; caches its discovery document and keys."""

    def __init__(self, issuer: str, client_id: str, client_secret: str | None, timeout: float = 10.0) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self._timeout = timeout
        self._lock = threading.RLock()
        self._metadata: dict[str, Any] | None = None
        self._metadata_fetched = 0.0
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._keys_fetched = 0.0

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, whose issuer must be the one configured."""
        with self._lock:
            if self._metadata is None or time.monotonic() - self._metadata_fetched > METADATA_MAX_AGE_SECONDS:
                document = self._get_json(f"{self.issuer}/.well-known/openid-configuration")
                if str(document.get("issuer", "")).rstrip("/") != self.issuer:
                    raise ProviderUnavailable(f"the discovery document of {self.issuer} names another issuer")
                missing = {"authorization_endpoint", "token_endpoint", "jwks_uri"} - document.keys()
                if missing:
                    raise ProviderUnavailable(f"{self.issuer}'s discovery document lacks {sorted(missing)}")
                self._metadata, self._metadata_fetched = document, time.monotonic()
            return self._metadata

    def start_login(self, redirect_uri: str) -> PendingLogin:
        state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), generate_token(64)
        with self._oauth_client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                self.metadata()["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
            )
        return PendingLogin(url=url, state=state, nonce=nonce, code_verifier=verifier)

    def finish_login(self, code: str, redirect_uri: str, nonce: str, code_verifier: str) -> Identity:
        """Trade the authorization code for an ID token, and verify it."""
        try:
            with self._oauth_client(redirect_uri) as client:
                token = client.fetch_token(self.metadata()["token_endpoint"], code=code, code_verifier=code_verifier)
        except OAuthError as exc:
            raise InvalidCredentials(f"the provider refused the authorization code: {exc.error}") from exc
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"could not reach the provider's token endpoint: {exc}") from exc
        if "id_token" not in token:
            raise ProviderUnavailable("the provider's token response has no ID token (is 'openid' allowed?)")
        return self.verify_id_token(token["id_token"], nonce)

    def verify_id_token(self, id_token: str, nonce: str | None) -> Identity:
        """The identity in a genuine ID token issued for us; `InvalidCredentials` for anything else.

        `nonce` must match when given; the browser flow always gives it.
        """
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as exc:
            raise InvalidCredentials("the ID token is not a JWT") from exc
        algorithm = header.get("alg")
        if algorithm not in ID_TOKEN_ALGORITHMS:
            raise InvalidCredentials(f"ID tokens must be signed by a public-key algorithm, not {algorithm!r}")
        key = self._signing_key(header.get("kid"))
        try:
            claims = jwt.decode(
                id_token,
                key,
                algorithms=[algorithm],
                audience=self.client_id,
                issuer=self.metadata()["issuer"],
                leeway=CLOCK_LEEWAY_SECONDS,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidCredentials("the ID token has expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidCredentials(f"the ID token is not valid: {exc}") from exc
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise InvalidCredentials("the ID token was issued to another client (azp)")
        if nonce is not None and not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise InvalidCredentials("the ID token's nonce does not match this sign-in")
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise SignInRefused("the provider did not share an e-mail address (the 'email' scope is needed)")
        return Identity(
            email=email,
            email_verified=claims.get("email_verified") in (True, "true"),
            name=claims.get("name") if isinstance(claims.get("name"), str) else None,
            subject=str(claims["sub"]),
        )

    def _signing_key(self, key_id: str | None) -> jwt.PyJWK:
        """The published key with this id, fetching the key set again (not too often) when it is new."""
        with self._lock:
            stale = time.monotonic() - self._keys_fetched > KEYS_MIN_REFETCH_SECONDS
            if key_id not in self._keys and stale:
                self._keys = self._fetch_keys()
                self._keys_fetched = time.monotonic()
            if key_id in self._keys:
                return self._keys[key_id]
        raise InvalidCredentials("the ID token is signed with a key the provider does not publish")

    def _fetch_keys(self) -> dict[str | None, jwt.PyJWK]:
        document = self._get_json(self.metadata()["jwks_uri"])
        try:
            keys = jwt.PyJWKSet.from_dict(document).keys
        except jwt.PyJWTError as exc:
            raise ProviderUnavailable(f"the provider's key set is unusable: {exc}") from exc
        by_id: dict[str | None, jwt.PyJWK] = {key.key_id: key for key in keys}
        if len(keys) == 1:
            by_id[None] = keys[0]  # a lone key may be used by tokens that name no key id
        return by_id

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = httpx.get(url, timeout=self._timeout)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(f"could not read {url}: {exc}") from exc
        if not isinstance(document, dict):
            raise ProviderUnavailable(f"{url} did not answer with a JSON object")
        return document

    def _oauth_client(self, redirect_uri: str) -> OAuth2Client:
        return OAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method="client_secret_basic" if self.client_secret else "none",
            scope=SCOPE,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=self._timeout,
        )


def provider_for(settings: Settings) -> OidcProvider:
    """The configured provider; `ProviderUnavailable` while no client id is set."""
    if not settings.oidc_client_id:
        raise ProviderUnavailable(
            "sign-in with an OpenID provider is not configured: set XENO_OIDC_CLIENT_ID and "
            "XENO_OIDC_CLIENT_SECRET (and XENO_OIDC_ISSUER for a provider other than Google)"
        )
    return _provider(settings.oidc_issuer, settings.oidc_client_id, revealed(settings.oidc_client_secret))


@lru_cache(maxsize=8)
def _provider(issuer: str, client_id: str, client_secret: str | None) -> OidcProvider:
    return OidcProvider(issuer, client_id, client_secret)


def remember_login(client: redis.Redis, settings: Settings, login: PendingLogin) -> None:
    value = json.dumps({"nonce": login.nonce, "code_verifier": login.code_verifier})
    client.set(settings.redis_key(f"auth:login:{login.state}"), value, ex=LOGIN_MAX_AGE_SECONDS)


def take_login(client: redis.Redis, settings: Settings, state: str) -> tuple[str, str]:
    """The nonce and code verifier of the sign-in with this state, which can be finished only once."""
    value = client.getdel(settings.redis_key(f"auth:login:{state}"))
    if value is None:
        raise InvalidCredentials("this sign-in is unknown, already finished or too old; start again")
    pending = json.loads(value)
    return pending["nonce"], pending["code_verifier"]
