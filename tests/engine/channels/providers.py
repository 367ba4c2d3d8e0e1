"""Loopback stand-ins for the providers, speaking their wire formats: a Postmark-style e-mail API, Twilio's
Messages API, Meta's WhatsApp Cloud API, and a webhook receiver that checks Standard Webhooks signatures. Each
keeps the requests it took and refuses the way the real one does (by the recipient, for the tests to choose)."""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.webhooks import WebhookVerificationError, verify

TOKEN = "server-token-1"
ACCOUNT, AUTH_TOKEN = "AC0123456789abcdef", "twilio-secret"
PHONE_NUMBER_ID, META_TOKEN, TEMPLATE = "1098765", "meta-token", "xeno_message"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

# Recipients the providers refuse.
BOUNCED_EMAIL = "bounced@example.com"  # Postmark 406: inactive recipient
NOT_MOBILE, STOPPED, BUSY = "+15005550009", "+15005550006", "+15005550429"  # Twilio 21614, 21610, 429 once
NOT_ON_WHATSAPP = "+919900000404"  # Meta 131026


@dataclass
class Provider:
    """What a provider was sent: each request's headers and body, as received."""

    requests: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    busy_once: set[str] = field(default_factory=set)
    ids: itertools.count[int] = field(default_factory=itertools.count)


def postmark(provider: Provider) -> Starlette:
    async def batch(request: Request) -> Response:
        if request.headers.get("X-Postmark-Server-Token") != TOKEN:
            return JSONResponse({"ErrorCode": 10, "Message": "Bad or missing Server API token."}, status_code=401)
        messages = orjson.loads(await request.body())
        provider.requests.append((dict(request.headers), messages))
        results = [
            {"ErrorCode": 406, "Message": "You tried to send to recipient(s) that have been marked as inactive.",
             "To": message["To"]}
            if message["To"] == BOUNCED_EMAIL
            else {"ErrorCode": 0, "Message": "OK", "MessageID": f"pm-{next(provider.ids)}", "To": message["To"]}
            for message in messages
        ]  # fmt: skip
        return JSONResponse(results)

    return Starlette(routes=[Route("/email/batch", batch, methods=["POST"])])


def twilio(provider: Provider) -> Starlette:
    async def messages(request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"{ACCOUNT}:{AUTH_TOKEN}".encode()).decode()
        if request.path_params["account"] != ACCOUNT or request.headers.get("Authorization") != expected:
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, status_code=401)
        form = dict(await request.form())
        provider.requests.append((dict(request.headers), form))
        to = form["To"]
        if to == BUSY and to not in provider.busy_once:
            provider.busy_once.add(to)
            return JSONResponse({"code": 20429, "message": "Too Many Requests", "status": 429}, status_code=429,
                                headers={"Retry-After": "0"})  # fmt: skip
        if to == NOT_MOBILE:
            return JSONResponse({"code": 21614, "message": "'To' number is not a valid mobile number", "status": 400},
                                status_code=400)  # fmt: skip
        if to == STOPPED:
            return JSONResponse({"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400},
                                status_code=400)  # fmt: skip
        sid = f"SM{next(provider.ids):032x}"
        return JSONResponse({"sid": sid, "status": "queued", "to": to, "body": form["Body"]}, status_code=201)

    return Starlette(routes=[Route("/2010-04-01/Accounts/{account}/Messages.json", messages, methods=["POST"])])


def meta(provider: Provider) -> Starlette:
    async def send(request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {META_TOKEN}":
            error = {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}
            return JSONResponse({"error": error}, status_code=401)
        body = orjson.loads(await request.body())
        provider.requests.append((dict(request.headers), body))
        if body["to"] == NOT_ON_WHATSAPP:
            error = {"message": "(#131026) Message Undeliverable.", "type": "OAuthException", "code": 131026}
            return JSONResponse({"error": error}, status_code=400)
        return JSONResponse(
            {"messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": body["to"].lstrip("+")}],
             "messages": [{"id": f"wamid.{next(provider.ids)}"}]}
        )  # fmt: skip

    return Starlette(routes=[Route(f"/{PHONE_NUMBER_ID}/messages", send, methods=["POST"])])


def webhook_receiver(provider: Provider) -> Starlette:
    async def receive(request: Request) -> Response:
        raw = await request.body()
        try:
            verify(WEBHOOK_SECRET, request.headers, raw)
        except WebhookVerificationError as problem:
            return JSONResponse({"detail": str(problem)}, status_code=400)
        body = orjson.loads(raw)
        provider.requests.append((dict(request.headers), body))
        if body["external_id"] == "refuses":
            return JSONResponse({"detail": "unknown customer"}, status_code=422)
        return Response(status_code=204)

    return Starlette(routes=[Route("/hooks/messages", receive, methods=["POST"])])
