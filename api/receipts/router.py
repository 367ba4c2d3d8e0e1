"""`POST /v1/receipts`: delivery receipts from the vendor, verified and put on the receipts stream.

Public on purpose: the Standard Webhooks signature (`webhook-id`, `webhook-timestamp`,
`webhook-signature`) made with the shared secret is the credential; a bad signature or a timestamp
outside the tolerance is 401. A `webhook-id` seen before is answered 202 and adds nothing, so a vendor
retrying a callback we already took is satisfied. Nothing is written to Postgres here: the receipts
applier takes it from the stream.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, status
from pydantic import TypeAdapter, ValidationError

from api.errors import ApiError, Unauthorized, UnprocessableEntity, error_responses, validation_problems
from api.openapi import body_schema
from api.receipts.schemas import ReceiptIn, ReceiptsAccepted
from engine.campaigns.receipts import accept_callback
from engine.connections import get_async_redis
from engine.settings import get_settings, revealed
from engine.webhooks import WebhookVerificationError, verify

router = APIRouter(prefix="/v1", tags=["delivery"])

MAX_WEBHOOK_ID = 256
_RECEIPTS: TypeAdapter[ReceiptIn | list[ReceiptIn]] = TypeAdapter(ReceiptIn | list[ReceiptIn])
_REFUSED = error_responses(
    described={
        401: "A missing or bad signature, a timestamp outside the tolerance, or no receipts secret configured here "
        "(XENO_RECEIPTS_WEBHOOK_SECRET), so that no signature can be checked.",
        422: "The body is not a receipt or a list of receipts.",
    }
)


@router.post(
    "/receipts",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ReceiptsAccepted,
    responses=_REFUSED,
    openapi_extra=body_schema(ReceiptIn | list[ReceiptIn]),
    summary="Delivery receipts (vendor callback)",
)
async def receive_receipts(request: Request) -> ReceiptsAccepted:
    """Standard Webhooks signature. One receipt or a list; each moves its message's status forward."""
    settings = get_settings()
    secret = revealed(settings.receipts_webhook_secret)
    if secret is None:
        raise Unauthorized(
            {"reason": "not_configured", "message": "no receipts secret: set XENO_RECEIPTS_WEBHOOK_SECRET"}
        )
    body = await request.body()
    try:
        webhook_id = verify(secret, request.headers, body, tolerance_seconds=settings.receipts_tolerance_s)
    except WebhookVerificationError as error:
        raise Unauthorized({"reason": error.reason.value, "message": error.detail}) from None
    if len(webhook_id) > MAX_WEBHOOK_ID:
        raise UnprocessableEntity(f"webhook-id is limited to {MAX_WEBHOOK_ID} characters")
    try:
        receipts = _RECEIPTS.validate_python(orjson.loads(body))
    except orjson.JSONDecodeError as error:
        raise ApiError(f"the body is not valid JSON: {error}") from None
    except ValidationError as error:
        raise UnprocessableEntity(validation_problems(error.errors())) from None
    count = len(receipts) if isinstance(receipts, list) else 1
    entry_id = await accept_callback(get_async_redis(), settings, webhook_id, body)
    return ReceiptsAccepted(accepted=count, duplicate=entry_id is None)
