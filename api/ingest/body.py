"""Reading an ingestion request's JSON body: its media type, its size within a limit, gzip (Segment SDKs may gzip).

A body declared as something other than JSON (a form, plain text from `curl -d`) is a 415 saying what to send.
Segment's browser library (analytics.js) posts its JSON as `text/plain`, which spares the browser a CORS
preflight request; the Segment-compatible endpoints accept that (`JSON_OR_TEXT`), ours do not.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from fastapi import Request

from api.errors import ApiError, PayloadTooLarge, UnprocessableEntity

JSON = frozenset({"application/json"})
JSON_OR_TEXT = JSON | {"text/plain"}


class UnsupportedMediaType(ApiError):
    status_code = 415
    error = "unsupported_media_type"


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body is limited to {limit} bytes")


def check_media_type(request: Request, accepted: frozenset[str]) -> None:
    """415 unless the body is declared JSON (`application/json` or `*/*+json`), one of `accepted`, or undeclared."""
    declared = request.headers.get("content-type")
    if declared is None:
        return
    media_type = declared.partition(";")[0].strip().lower()
    if media_type in accepted or media_type.endswith("+json"):
        return
    raise UnsupportedMediaType(
        f"content-type {media_type!r} is not supported; send the body as JSON with Content-Type: application/json"
    )


async def read_body(request: Request, limit: int, accepted: frozenset[str] = JSON) -> bytes:
    """The body, inflated if gzipped: 415 for a media type other than JSON, 413 past `limit` bytes (before and
    after decompression), 422 when empty."""
    check_media_type(request, accepted)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    encoding = request.headers.get("content-encoding", "identity").lower()
    if encoding == "gzip":
        inflater = zlib.decompressobj(wbits=31)
        try:
            body = bytearray(inflater.decompress(bytes(body), limit + 1))
        except zlib.error as error:
            raise ApiError(f"the body is not valid gzip: {error}") from error
        if len(body) > limit or inflater.unconsumed_tail:
            raise _too_large(limit)
    elif encoding != "identity":
        raise UnsupportedMediaType(f"content-encoding {encoding!r} is not supported; use gzip or none")
    if not body:
        raise UnprocessableEntity("the request body is empty; send JSON")
    return bytes(body)


def parse_json(body: bytes) -> Any:
    """The parsed body; 400 for bad JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ApiError(f"the body is not valid JSON: {error}") from error


async def read_json(request: Request, limit: int, accepted: frozenset[str] = JSON) -> tuple[Any, int]:
    """The parsed body and its size (see `read_body`)."""
    body = await read_body(request, limit, accepted)
    return parse_json(body), len(body)
