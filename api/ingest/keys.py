"""Authenticating integrators by write key: HTTP Basic with the key as user name or Bearer."""

from __future__ import annotations

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPBasic, HTTPBearer

from api.auth.dependencies import current_caller
from api.errors import Forbidden, Unauthorized
from engine.connections import get_engine
from engine.keys import WriteKey, remembered_key, verify_key

# Declared for the OpenAPI document; the header is parsed below so a missing or bad key is one clear 401.
write_key_basic = HTTPBasic(scheme_name="WriteKeyBasic", auto_error=False, description="Write key as user name")
write_key_bearer = HTTPBearer(scheme_name="WriteKeyBearer", auto_error=False, description="`Bearer xk_...`")

CHALLENGE = {"WWW-Authenticate": 'Basic realm="xeno ingest"'}
UNKNOWN_KEY = "the write key is unknown or revoked"


async def authenticate(request: Request, body_key: str | None = None) -> WriteKey:
    """The write key of the request: from its Authorization header, else (Segment's way) from its body. A bad
    credential is refused as a write key (an integrator sends no user's token, so advice about those misleads)."""
    try:
        caller = await current_caller(request)
    except Unauthorized:
        raise Unauthorized(UNKNOWN_KEY, headers=CHALLENGE) from None
    if isinstance(caller, WriteKey):
        return caller
    if caller is not None:
        raise Forbidden("ingestion takes a write key, not a user's token")
    if not body_key:
        raise Unauthorized("a write key is required (HTTP Basic user name, or Bearer)", headers=CHALLENGE)
    key = remembered_key(body_key) or await run_in_threadpool(verify_key, get_engine(), body_key)
    if key is None:
        raise Unauthorized(UNKNOWN_KEY, headers=CHALLENGE)
    return key
