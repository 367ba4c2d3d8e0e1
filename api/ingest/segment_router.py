"""Segment's HTTP Tracking API: `identify`, `track`, `page`, `screen`, `group`, `alias` and `batch`.

Compatible with Segment's SDKs pointed at this API: the write key is the HTTP Basic user name (or
`writeKey` in the body), calls are limited to 32 KB and batches to 500 KB, bodies are JSON (sent as
`application/json`, or as `text/plain` the way analytics.js does), and the answer is a 200 with `success`.
Items that are not valid are refused one by one and listed in `rejected`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Security
from pydantic import ValidationError

from api.deps import rate_limit
from api.errors import ApiError, UnprocessableEntity
from api.ingest.body import JSON_OR_TEXT, parse_json, read_body, read_json
from api.ingest.keys import authenticate, write_key_basic, write_key_bearer
from api.ingest.publish import publish_batch
from api.ingest.schemas import ItemError, SegmentAccepted
from api.openapi import body_schema
from engine.ingest.segment import (
    MAX_BATCH_BYTES,
    MAX_MESSAGE_BYTES,
    SegmentBatch,
    SegmentMessage,
    loose_batch_adapter,
    to_batch,
    whole_batch,
    with_context,
)

router = APIRouter(
    prefix="/v1",
    tags=["segment-compatible"],
    dependencies=[Security(write_key_basic), Security(write_key_bearer), rate_limit("ingest")],
)

_REFUSED: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not JSON, or no message in it was valid."},
    401: {"description": "No write key, or an unknown or revoked one."},
    413: {"description": "A call over 32 KB, or a batch over 500 KB."},
    415: {"description": "The body is declared as something other than JSON (a form, for instance)."},
}


async def _accept(
    messages: list[Any], sent_at: datetime | None, body_bytes: int, validated: bool = False
) -> SegmentAccepted:
    """Map the messages (their sender already authenticated) onto records and put them on the stream."""
    batch, problems, encoded = to_batch(messages, datetime.now(UTC), sent_at, body_bytes, validated)
    accepted = len(batch["events"])
    rejected = [ItemError(index=p.index, field=p.field, message=p.message) for p in problems]
    if not accepted and rejected:
        raise ApiError([item.model_dump() for item in rejected])
    stream_id = await publish_batch(batch, encoded)
    return SegmentAccepted(
        accepted=accepted,
        ids=[event["message_id"] for event in batch["events"]],
        rejected=rejected,
        stream_id=stream_id,
    )


def _problem_list(error: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in detail["loc"]), "message": detail["msg"]}
        for detail in error.errors(include_url=False, include_input=False)
    ]


@router.post(
    "/batch",
    response_model=SegmentAccepted,
    responses=_REFUSED,
    openapi_extra=body_schema(SegmentBatch[SegmentMessage]),
)
async def batch(request: Request) -> SegmentAccepted:
    """Write key. Many calls of any type in one request (what Segment's SDKs send)."""
    raw = await read_body(request, MAX_BATCH_BYTES, JSON_OR_TEXT)
    body = whole_batch(raw)
    if body is None:
        return await _batch_by_message(request, raw)
    await authenticate(request, body.get("writeKey"))
    context = body.get("context", {})
    messages = [with_context(message, context) for message in body["batch"]] if context else body["batch"]
    return await _accept(messages, body.get("sentAt"), len(raw), validated=True)


async def _batch_by_message(request: Request, raw: bytes) -> SegmentAccepted:
    """A batch that is not valid as a whole: each message validated on its own, the bad ones named."""
    parsed = parse_json(raw)
    await authenticate(request, parsed.get("writeKey") if isinstance(parsed, dict) else None)
    try:
        body = loose_batch_adapter.validate_python(parsed)
    except ValidationError as error:
        raise UnprocessableEntity(_problem_list(error)) from error
    context = body.get("context", {})
    return await _accept([with_context(message, context) for message in body["batch"]], body.get("sentAt"), len(raw))


async def _single(request: Request, call: str) -> SegmentAccepted:
    body, size = await read_json(request, MAX_MESSAGE_BYTES, JSON_OR_TEXT)
    if not isinstance(body, dict):
        raise ApiError([{"index": 0, "field": "(body)", "message": "a call is one JSON object"}])
    await authenticate(request, body.get("writeKey"))
    return await _accept([{**body, "type": call}], None, size)


def _route(call: str, summary: str) -> None:
    async def endpoint(request: Request) -> SegmentAccepted:
        return await _single(request, call)

    endpoint.__doc__ = f"Write key. {summary}"
    router.add_api_route(
        f"/{call}",
        endpoint,
        methods=["POST"],
        name=call,
        summary=summary,
        response_model=SegmentAccepted,
        responses=_REFUSED,
        openapi_extra=body_schema(SegmentMessage),
    )


_route("identify", "Identify a user: traits update the customer with that userId")
_route("track", "Record an event; `Order Completed` also records the order")
_route("page", "Record a page view")
_route("screen", "Record a mobile screen view")
_route("group", "Associate the user with a group")
_route("alias", "Merge a previous (anonymous) identity into a user")
