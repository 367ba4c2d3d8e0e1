"""Who is calling, whether they may, and how often.

A caller is a signed-in user (`Authorization: Bearer <access token>`), an integrator's write key
(`Bearer xk_...` or HTTP Basic with the key as user name), or nobody. `require_role(Role.analyst)` lets in
users with that role or a higher one; write keys are refused everywhere but the ingest routes, which
check them themselves. `rate_limit("read")` counts each request against the caller's allowance for the
group: per user, per write key, or per client address for anonymous callers.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from typing import Annotated, get_args

import redis.asyncio
from fastapi import Depends, Request, Response, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.params import Depends as DependsParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import Forbidden, TooManyRequests, Unauthorized
from engine.auth import sessions
from engine.auth.errors import InvalidCredentials
from engine.auth.ratelimit import RateLimiter
from engine.auth.roles import Role
from engine.auth.users import User
from engine.connections import get_async_redis, get_engine
from engine.keys import KEY_PREFIX, WriteKey, remembered_key, verify_key
from engine.observability.logs import note
from engine.settings import RateLimitGroup, get_settings

user_token = HTTPBearer(
    scheme_name="UserToken",
    auto_error=False,
    description="An access token from `/v1/auth/...` (sign-in, token exchange or refresh), as "
    "`Authorization: Bearer <token>`. It lasts minutes; refresh it with the refresh token.",
)
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="xeno"'}

Caller = User | WriteKey


async def still_signed_in(request: Request) -> User | None:
    """For a long-lived response (an event stream), asked again as it runs: the request's user as they are now
    (their role may have changed), or None once the access token has expired or its session has ended."""
    try:
        return await run_in_threadpool(
            sessions.authenticate, get_engine(), get_settings(), key_from_header(request) or ""
        )
    except InvalidCredentials:
        return None


def key_from_header(request: Request) -> str | None:
    """The credential in the Authorization header: a Bearer token, or the user name of HTTP Basic."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            user, _, _ = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user or None
    return None


async def current_caller(request: Request) -> Caller | None:
    """The caller named by the Authorization header, None without one; 401 for a bad credential.

    Looked up once per request, however many dependencies ask.
    """
    if not hasattr(request.state, "xeno_caller"):
        request.state.xeno_caller = await _look_up_caller(request)
    if isinstance(request.state.xeno_caller, Unauthorized):
        raise request.state.xeno_caller
    caller: Caller | None = request.state.xeno_caller
    return caller


async def _look_up_caller(request: Request) -> Caller | Unauthorized | None:
    """A write key checked moments ago is answered from memory; anything else is checked in a thread."""
    credential = key_from_header(request)
    remembered = remembered_key(credential) if credential else None
    if remembered is not None:
        return remembered
    try:
        return await run_in_threadpool(_identify, request)
    except InvalidCredentials as refusal:
        return Unauthorized(str(refusal), headers=BEARER_CHALLENGE)


def _identify(request: Request) -> Caller | None:
    if "authorization" not in request.headers:
        return None
    credential = key_from_header(request)
    if credential is None:
        raise InvalidCredentials("send `Authorization: Bearer <access token>`")
    if credential.startswith(f"{KEY_PREFIX}_"):
        key = verify_key(get_engine(), credential)
        if key is None:
            raise InvalidCredentials("the write key is unknown or revoked")
        return key
    if not request.headers["authorization"].lower().startswith("bearer "):
        raise InvalidCredentials("send `Authorization: Bearer <access token>`")
    return sessions.authenticate(get_engine(), get_settings(), credential)


class RoleGuard:
    """A dependency that lets in signed-in users holding `role` or a higher one, and returns the user."""

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(
        self, request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Security(user_token)]
    ) -> User:
        caller = await current_caller(request)
        if caller is None:
            raise Unauthorized("sign in first: send `Authorization: Bearer <access token>`", headers=BEARER_CHALLENGE)
        if isinstance(caller, WriteKey):
            raise Forbidden("write keys can only ingest; this route needs a signed-in user")
        note(user_id=caller.id)
        if not caller.role.includes(self.role):
            raise Forbidden(f"this needs the {self.role} role (or a higher one); you are a {caller.role}")
        return caller


_GUARDS = {role: RoleGuard(role) for role in Role}


def require_role(role: Role) -> RoleGuard:
    """The dependency for routes that need at least `role` (one shared instance per role)."""
    return _GUARDS[role]


class RateLimit:
    """A dependency counting the request against the caller's allowance in one route group."""

    def __init__(self, group: RateLimitGroup) -> None:
        self.group = group

    async def __call__(self, request: Request, response: Response) -> None:
        settings = get_settings()
        if not settings.rate_limits_enabled:
            return
        limit, period = settings.rate_limit(self.group)
        key = settings.redis_key(f"ratelimit:{self.group}:{await _bucket(request)}")
        decision = await _limiter(get_async_redis()).hit(key, limit, period)  # Redis out of reach: a 503
        if not decision.allowed:
            raise TooManyRequests(
                f"more than {limit} {self.group} requests in {period} s; retry in {decision.retry_after_seconds} s",
                headers=decision.headers(),
            )
        response.headers.update(decision.headers())


@lru_cache(maxsize=1)
def _limiter(client: redis.asyncio.Redis) -> RateLimiter:
    """The process's limiter (it keeps the leases of busy buckets) for the Redis client of the request path."""
    return RateLimiter(client)


_LIMITS: dict[str, RateLimit] = {group: RateLimit(group) for group in get_args(RateLimitGroup)}


def rate_limit(group: RateLimitGroup) -> DependsParam:
    """`dependencies=[rate_limit("read")]` on a router or route: one count per request, however often declared."""
    return Depends(_LIMITS[group])


async def _bucket(request: Request) -> str:
    try:
        caller = await current_caller(request)
    except Unauthorized:
        caller = None  # the route's own guard answers 401; until then this is an anonymous caller
    if isinstance(caller, User):
        return f"user:{caller.id}"
    if isinstance(caller, WriteKey):
        return f"key:{caller.id}"
    return f"ip:{client_ip(request)}"


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None
