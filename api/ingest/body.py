"""Reading an ingestion request's JSON body within a size limit, gzip included (Segment SDKs may gzip)."""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from fastapi import Request

from api.errors import ApiError, PayloadTooLarge, UnprocessableEntity


class UnsupportedEncoding(ApiError):
    status_code = 415
    error = "unsupported_media_type"


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body is limited to {limit} bytes")


async def read_json(request: Request, limit: int) -> tuple[Any, int]:
    """The parsed body and its size; 413 past `limit` bytes (before and after decompression), 400 for bad JSON."""
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
        raise UnsupportedEncoding(f"content-encoding {encoding!r} is not supported; use gzip or none")
    if not body:
        raise UnprocessableEntity("the request body is empty; send JSON")
    try:
        return orjson.loads(body), len(body)
    except orjson.JSONDecodeError as error:
        raise ApiError(f"the body is not valid JSON: {error}") from error
