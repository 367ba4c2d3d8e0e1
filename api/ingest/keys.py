"""Authenticating integrators by write key: HTTP Basic with the key as user name or Bearer."""

from __future__ import annotations

import base64
import binascii

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPBasic, HTTPBearer

from api.errors import Unauthorized
from engine.connections import get_engine
from engine.keys import WriteKey, verify_key

# Declared for the OpenAPI document; the header is parsed below so a missing or bad key is one clear 401.
write_key_basic = HTTPBasic(scheme_name="WriteKeyBasic", auto_error=False, description="Write key as user name")
write_key_bearer = HTTPBearer(scheme_name="WriteKeyBearer", auto_error=False, description="`Bearer xk_...`")

CHALLENGE = {"WWW-Authenticate": 'Basic realm="xeno ingest"'}


def key_from_header(request: Request) -> str | None:
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


async def authenticate(token: str | None) -> WriteKey:
    if not token:
        raise Unauthorized("a write key is required (HTTP Basic user name, or Bearer)", headers=CHALLENGE)
    key = await run_in_threadpool(verify_key, get_engine(), token)
    if key is None:
        raise Unauthorized("the write key is unknown or revoked", headers=CHALLENGE)
    return key
