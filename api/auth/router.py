"""`/v1/auth/...`: sign in (OpenID Connect, token exchange, or the developer sign-in), refresh, sign out, me.

Public except `/me`: these routes are how a caller gets credentials in the first place. They share the
`auth` rate limit, counted per client address, which also slows down guessing.
"""

from __future__ import annotations

import hmac
from datetime import datetime

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import RedirectResponse

from api.auth.dependencies import client_ip, key_from_header, rate_limit
from api.auth.schemas import (
    BrowserRefreshToken,
    DevSignInRequest,
    RefreshTokenBody,
    TokenExchangeRequest,
    TokenPair,
    UserOut,
)
from api.deps import AppSettings, Db, RedisClient, Viewer
from api.errors import ApiError, Forbidden, NotFound, error_responses
from engine.auth import audit
from engine.auth.oidc import LOGIN_MAX_AGE_SECONDS, provider_for, remember_login, take_login
from engine.auth.sessions import browser_refresh_token, end_session, refresh_session
from engine.auth.signin import dev_sign_in, is_loopback, sign_in

router = APIRouter(prefix="/v1/auth", tags=["auth"])

LOGIN_COOKIE = "xeno_login_state"


@router.get(
    "/login",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    responses={302: {"description": "To the provider's sign-in page."}, **error_responses(429, 503)},
    dependencies=[rate_limit("auth")],
    summary="Start signing in with the OpenID provider",
)
def login(redis_client: RedisClient, settings: AppSettings) -> RedirectResponse:
    """Public. Redirects the browser to the provider (Google unless `XENO_OIDC_ISSUER` says otherwise) with
    an authorization-code request protected by PKCE, a state bound to this browser and a nonce."""
    pending = provider_for(settings).start_login(settings.oidc_callback_url)
    remember_login(redis_client, settings, pending)
    response = RedirectResponse(pending.url, status_code=status.HTTP_302_FOUND)
    response.set_cookie(
        LOGIN_COOKIE,
        pending.state,
        max_age=LOGIN_MAX_AGE_SECONDS,
        path="/v1/auth",
        httponly=True,
        samesite="lax",
        secure=settings.oidc_callback_url.startswith("https://"),
    )
    return response


@router.get(
    "/callback",
    response_model=TokenPair,
    responses=error_responses(400, 401, 403, 429, 503),
    dependencies=[rate_limit("auth")],
    summary="Finish signing in: the provider sends the browser here",
)
def callback(
    request: Request,
    response: Response,
    db: Db,
    redis_client: RedisClient,
    settings: AppSettings,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
) -> TokenPair:
    """Public. Trades the authorization code for the provider's ID token, verifies it (signature, issuer,
    audience, expiry, nonce), admits the user by the allow lists, and answers with our tokens."""
    if error is not None:
        raise Forbidden(f"the provider did not sign you in: {error}")
    if not code or not state:
        raise ApiError("the callback needs the `code` and `state` the provider sends")
    started_here = request.cookies.get(LOGIN_COOKIE, "")
    if not hmac.compare_digest(started_here.encode(), state.encode()):
        raise ApiError("this sign-in was not started from this browser; start again at /v1/auth/login")
    response.delete_cookie(LOGIN_COOKIE, path="/v1/auth")
    nonce, code_verifier = take_login(redis_client, settings, state)
    identity = provider_for(settings).finish_login(code, settings.oidc_callback_url, nonce, code_verifier)
    return TokenPair.of(sign_in(db, settings, identity, "oidc", client_ip(request)))


@router.post(
    "/token-exchange",
    response_model=TokenPair,
    responses=error_responses(401, 403, 429, 503),
    dependencies=[rate_limit("auth")],
    summary="Trade a provider ID token for our tokens",
)
def token_exchange(body: TokenExchangeRequest, request: Request, db: Db, settings: AppSettings) -> TokenPair:
    """Public. For a client that signed the user in with the provider itself (the dashboard's `st.login`):
    the ID token must be issued by our provider for our client id, unexpired and genuinely signed; then the
    same admission rules as the browser sign-in apply."""
    identity = provider_for(settings).verify_id_token(body.id_token, body.nonce)
    return TokenPair.of(sign_in(db, settings, identity, "token-exchange", client_ip(request)))


@router.post(
    "/dev-login",
    response_model=TokenPair,
    responses=error_responses(403, 404, 429),
    dependencies=[rate_limit("auth")],
    summary="Developer sign-in (local development only)",
)
def dev_login(body: DevSignInRequest, request: Request, db: Db, settings: AppSettings) -> TokenPair:
    """Public, and answers only while `XENO_DEV_SIGNIN=true`, from and to a loopback address (the API refuses
    to start with it on any other address). Signs in as the e-mail given, with the role asked for."""
    if not settings.dev_signin:
        raise NotFound("the developer sign-in is switched off (XENO_DEV_SIGNIN); sign in with /v1/auth/login")
    server = request.scope.get("server") or (None, None)
    if not (is_loopback(server[0]) and is_loopback(client_ip(request))):
        raise Forbidden("the developer sign-in only answers on a loopback address")
    return TokenPair.of(dev_sign_in(db, settings, body.email, body.role, body.name, client_ip(request)))


@router.post(
    "/refresh",
    response_model=TokenPair,
    responses=error_responses(401, 429),
    dependencies=[rate_limit("auth")],
    summary="Trade a refresh token for a new pair",
)
def refresh(body: RefreshTokenBody, request: Request, db: Db, settings: AppSettings) -> TokenPair:
    """Public (the refresh token is the credential). Each refresh token works once, give or take
    `XENO_REFRESH_REUSE_INTERVAL_S` (30 s: two tabs opening at once present the same one, and each gets a pair):
    presenting one used longer ago ends its whole session, since someone else may hold a copy."""
    return TokenPair.of(refresh_session(db, settings, body.refresh_token, client_ip(request)))


@router.post(
    "/browser-token",
    response_model=BrowserRefreshToken,
    responses=error_responses(401, 429),
    dependencies=[rate_limit("auth")],
    summary="A refresh token for the browser to keep",
)
def browser_token(user: Viewer, request: Request, db: Db, settings: AppSettings) -> BrowserRefreshToken:
    """A second refresh token in the caller's session, for a server that signs people in (the dashboard) to hand
    to the browser in a secure, http-only cookie, so a reload or a link resumes the session. It is a rotation
    chain of its own: each use at `/v1/auth/refresh` spends it (present it again after the reuse interval and the
    session ends), and
    sign-out, reuse detection and disabling the user end it with the session."""
    token, expires_at = browser_refresh_token(db, settings, key_from_header(request) or "")
    return BrowserRefreshToken(
        refresh_token=token, expires_in=int((expires_at - datetime.now(expires_at.tzinfo)).total_seconds())
    )


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(429),
    dependencies=[rate_limit("auth")],
    summary="Sign out: end the session",
)
def logout(body: RefreshTokenBody, request: Request, db: Db) -> Response:
    """Public (the refresh token is the credential). Ends the session the refresh token belongs to: its
    refresh tokens and its access tokens stop working at once. Answers 204 whether or not it was live."""
    user = end_session(db, body.refresh_token)
    if user is not None:
        audit.record(db, user.email, audit.USER_SIGNED_OUT, user.email, ip=client_ip(request))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/me",
    response_model=UserOut,
    responses=error_responses(401, 429),
    dependencies=[rate_limit("read")],
    summary="Who am I",
)
def me(user: Viewer) -> UserOut:
    """The signed-in user, with their current role."""
    return UserOut.of(user)
