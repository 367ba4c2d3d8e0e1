"""Providers' delivery webhooks: Twilio status callbacks, Postmark-style e-mail webhooks and Meta's WhatsApp
status webhooks, each checked the way its provider authenticates, turned into receipts on the receipts stream
(engine.campaigns.provider_receipts).

Public on purpose, the provider's own credential standing in for ours:
- `POST /v1/receipts/twilio`: the message's `StatusCallback` (the twilio transport names one per message, with our
  log id as `ref`), or the messaging service's status callback URL; `X-Twilio-Signature` (which covers the URL,
  `ref` included) checked with XENO_TWILIO_AUTH_TOKEN (api.twilio_webhooks, as for inbound SMS).
- `POST /v1/receipts/email-api`: the server's Delivery, Bounce and Spam Complaint webhooks, with basic auth in
  their URL (XENO_EMAIL_API_WEBHOOK_USERNAME / XENO_EMAIL_API_WEBHOOK_PASSWORD).
- `POST /v1/receipts/meta`: the WhatsApp Business Account's `messages` webhook, `X-Hub-Signature-256` (HMAC-SHA256
  of the body under XENO_META_APP_SECRET); `GET` answers Meta's subscription check (`hub.verify_token` equal to
  XENO_META_WEBHOOK_VERIFY_TOKEN, else 403).
A report that is ours, of another system's message, or of a status we do not track is answered 204 alike (the
provider would retry anything else); nothing is written to Postgres here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import PlainTextResponse

from api.deps import Db
from api.errors import ApiError, Forbidden, Unauthorized
from api.twilio_webhooks import verified_twilio_form
from engine.campaigns.provider_receipts import (
    ProviderReport,
    accept_reports,
    email_api_reports,
    meta_reports,
    twilio_reports,
)
from engine.channels.transports import twilio
from engine.connections import get_async_redis
from engine.settings import Settings, get_settings, revealed

router = APIRouter(prefix="/v1/receipts", tags=["delivery"])
HUB_SIGNATURE = "X-Hub-Signature-256"


@router.post("/twilio", status_code=status.HTTP_204_NO_CONTENT, summary="Twilio status callback")
async def twilio_status(request: Request, db: Db) -> Response:
    """A Twilio status callback (`MessageSid`, `MessageStatus`, `ErrorCode`): delivered, undelivered or failed
    moves the message's status; STOP, invalid and landline numbers suppress it."""
    form = await verified_twilio_form(request)
    ref = request.query_params.get(twilio.REFERENCE_PARAMETER)
    return await _accept(db, "twilio", "sms", partial(twilio_reports, ref=ref), form)


@router.post("/email-api", status_code=status.HTTP_204_NO_CONTENT, summary="E-mail API webhook (Postmark-style)")
async def email_api_status(request: Request, db: Db) -> Response:
    """A Postmark-style webhook (`RecordType` Delivery, Bounce or SpamComplaint, `MessageID`), with basic auth:
    a hard bounce or a complaint fails the message permanently and suppresses the address."""
    _check_basic_auth(get_settings(), request.headers.get("Authorization", ""))
    return await _accept(db, "email_api", "email", email_api_reports, _json(await request.body()))


@router.get("/meta", response_class=PlainTextResponse, summary="Meta webhook subscription check")
async def meta_subscription(
    mode: Annotated[str, Query(alias="hub.mode", max_length=40)] = "",
    verify_token: Annotated[str, Query(alias="hub.verify_token", max_length=400)] = "",
    challenge: Annotated[str, Query(alias="hub.challenge", max_length=400)] = "",
) -> PlainTextResponse:
    """Meta subscribes the webhook by sending a challenge with our verify token: echoed when the token matches."""
    expected = revealed(get_settings().meta_webhook_verify_token)
    if mode != "subscribe" or not expected or not hmac.compare_digest(verify_token, expected):
        raise Forbidden("hub.verify_token does not match XENO_META_WEBHOOK_VERIFY_TOKEN")
    return PlainTextResponse(challenge)


@router.post("/meta", status_code=status.HTTP_204_NO_CONTENT, summary="Meta WhatsApp status webhook")
async def meta_status(request: Request, db: Db) -> Response:
    """A WhatsApp Business webhook (`entry[].changes[].value.statuses[]`: `id`, `status`, `errors[].code`), signed
    with the app secret: delivered or read delivers, failed fails with Meta's error code."""
    secret = revealed(get_settings().meta_app_secret)
    if not secret:
        raise Unauthorized({"reason": "not_configured", "message": "no app secret: set XENO_META_APP_SECRET"})
    body = await request.body()
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(request.headers.get(HUB_SIGNATURE, ""), expected):
        raise Unauthorized({"reason": "bad_signature", "message": f"{HUB_SIGNATURE} does not match the body"})
    return await _accept(db, "meta", "whatsapp", meta_reports, _json(body))


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ApiError(f"the body is not valid JSON: {error}") from None


async def _accept(
    db: Db, provider: str, channel: str, read: Callable[[Any, datetime], list[ProviderReport]], payload: Any
) -> Response:
    """Put the reports `read` finds in `payload` on the receipts stream; 422 naming what is wrong when it cannot."""
    reports = read(payload, datetime.now(UTC))
    if reports:
        await accept_reports(db, get_async_redis(), get_settings(), provider, channel, reports)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _check_basic_auth(settings: Settings, header: str) -> None:
    username, password = settings.email_api_webhook_username, revealed(settings.email_api_webhook_password)
    if not username or not password:
        raise Unauthorized({"reason": "not_configured", "message": "no webhook credentials: set "
                            "XENO_EMAIL_API_WEBHOOK_USERNAME and XENO_EMAIL_API_WEBHOOK_PASSWORD"})  # fmt: skip
    scheme, _, encoded = header.partition(" ")
    try:
        offered = base64.b64decode(encoded, validate=True) if scheme.lower() == "basic" else b""
    except binascii.Error:
        offered = b""
    if not hmac.compare_digest(offered, f"{username}:{password}".encode()):
        raise Unauthorized({"reason": "bad_credentials", "message": "the webhook's basic auth does not match"},
                           headers={"WWW-Authenticate": 'Basic realm="xeno receipts"'})  # fmt: skip
