"""Loopback stand-ins for the providers, speaking their wire formats: a Postmark-style e-mail API, Twilio's
Messages API, Meta's WhatsApp Cloud API, and a webhook receiver that checks Standard Webhooks signatures. Each
keeps the requests it took and refuses the way the real one does (by the recipient, for the tests to choose).

The e-mail and SMS APIs honour an `Idempotency-Key` header (a request repeating a key it took is answered as
the first was, and sends nothing), can lose their answer to a recipient's first request (they take the message,
then hold the answer until the client gives up waiting), can run a hook with each request before answering (a
status callback racing the answer), and answer status lookups of the messages they took."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
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
    taken: dict[str, Any] = field(default_factory=dict)  # the messages it took (would deliver), by its id
    answered: dict[str, tuple[int, Any]] = field(default_factory=dict)  # by idempotency key: status, body
    lose_answer_once: set[str] = field(default_factory=set)  # recipients whose first answer never arrives
    before_answer: Callable[[Any], None] | None = None  # run with each request's message(s) before answering
    statuses: dict[str, str] = field(default_factory=dict)  # what a status lookup answers, by its id


async def answer(provider: Provider, request: Request, recipients: list[str], status: int, body: Any) -> Response:
    """Answer a request that took messages: kept under its idempotency key, after the hook; an answer to lose is
    held until the client hangs up."""
    key = request.headers.get("Idempotency-Key")
    if key:
        provider.answered[key] = (status, body)
    lost = [to for to in recipients if to in provider.lose_answer_once]
    if lost:
        provider.lose_answer_once.difference_update(lost)
        while (await request.receive())["type"] != "http.disconnect":
            pass
    return JSONResponse(body, status_code=status)


def repeated(provider: Provider, request: Request) -> Response | None:
    """The first answer again, to a request repeating an idempotency key it took."""
    key = request.headers.get("Idempotency-Key")
    if key and key in provider.answered:
        status, body = provider.answered[key]
        return JSONResponse(body, status_code=status)
    return None


def postmark(provider: Provider) -> Starlette:
    async def batch(request: Request) -> Response:
        if request.headers.get("X-Postmark-Server-Token") != TOKEN:
            return JSONResponse({"ErrorCode": 10, "Message": "Bad or missing Server API token."}, status_code=401)
        messages = orjson.loads(await request.body())
        provider.requests.append((dict(request.headers), messages))
        if (again := repeated(provider, request)) is not None:
            return again
        results = [
            {"ErrorCode": 406, "Message": "You tried to send to recipient(s) that have been marked as inactive.",
             "To": message["To"]}
            if message["To"] == BOUNCED_EMAIL
            else {"ErrorCode": 0, "Message": "OK", "MessageID": f"pm-{next(provider.ids)}", "To": message["To"]}
            for message in messages
        ]  # fmt: skip
        for message, result in zip(messages, results, strict=True):
            if result["ErrorCode"] == 0:
                provider.taken[result["MessageID"]] = message
        if provider.before_answer is not None:
            provider.before_answer(messages)
        return await answer(provider, request, [message["To"] for message in messages], 200, results)

    async def details(request: Request) -> Response:
        if request.headers.get("X-Postmark-Server-Token") != TOKEN:
            return JSONResponse({"ErrorCode": 10, "Message": "Bad or missing Server API token."}, status_code=401)
        message_id = request.path_params["id"]
        if message_id not in provider.taken:
            return JSONResponse({"ErrorCode": 701, "Message": "This message was not found."}, status_code=422)
        events = {"delivered": [{"Type": "Delivered", "ReceivedAt": "2026-11-25T12:00:03Z", "Details": {}}],
                  "bounced": [{"Type": "Bounced", "ReceivedAt": "2026-11-25T12:00:04Z",
                               "Details": {"Summary": "The server was unable to deliver your message",
                                           "BounceID": "42"}}]}  # fmt: skip
        state = provider.statuses.get(message_id, "sent")
        return JSONResponse({"MessageID": message_id, "To": [{"Email": provider.taken[message_id]["To"]}],
                             "Status": "Sent", "MessageEvents": events.get(state, [])})  # fmt: skip

    return Starlette(routes=[
        Route("/email/batch", batch, methods=["POST"]),
        Route("/messages/outbound/{id}/details", details, methods=["GET"]),
    ])  # fmt: skip


def twilio(provider: Provider) -> Starlette:
    async def messages(request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"{ACCOUNT}:{AUTH_TOKEN}".encode()).decode()
        if request.path_params["account"] != ACCOUNT or request.headers.get("Authorization") != expected:
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, status_code=401)
        form = {name: str(value) for name, value in (await request.form()).items()}
        provider.requests.append((dict(request.headers), form))
        if (again := repeated(provider, request)) is not None:
            return again
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
        provider.taken[sid] = form
        if provider.before_answer is not None:
            provider.before_answer({**form, "sid": sid})
        return await answer(provider, request, [to], 201, {"sid": sid, "status": "queued", "to": to,
                                                           "body": form["Body"]})  # fmt: skip

    async def message(request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"{ACCOUNT}:{AUTH_TOKEN}".encode()).decode()
        if request.path_params["account"] != ACCOUNT or request.headers.get("Authorization") != expected:
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, status_code=401)
        sid = request.path_params["sid"]
        if sid not in provider.taken:
            return JSONResponse({"code": 20404, "message": f"The requested resource {request.url.path} was not found",
                                 "status": 404}, status_code=404)  # fmt: skip
        state = provider.statuses.get(sid, "sent")
        code = 30005 if state == "undelivered" else None
        return JSONResponse({"sid": sid, "status": state, "error_code": code, "to": provider.taken[sid]["To"]})

    return Starlette(routes=[
        Route("/2010-04-01/Accounts/{account}/Messages.json", messages, methods=["POST"]),
        Route("/2010-04-01/Accounts/{account}/Messages/{sid}.json", message, methods=["GET"]),
    ])  # fmt: skip


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
        wamid = f"wamid.{next(provider.ids)}"
        provider.taken[wamid] = body
        if provider.before_answer is not None:
            provider.before_answer({**body, "id": wamid})
        return JSONResponse(
            {"messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": body["to"].lstrip("+")}],
             "messages": [{"id": wamid}]}
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
