"""SMS over a Twilio-style API: `POST /2010-04-01/Accounts/{sid}/Messages.json`, one form-encoded message each.

Basic auth with the account SID and auth token; `From` is a number, or `MessagingServiceSid` when it is a
messaging service (`MG...`). 201 answers the message's `sid`. A refusal's `code` says why: 21610 (the number
replied STOP) is an unsubscribe, 21211 and 21614 an invalid or non-mobile number, all permanent. Status callbacks
(api.receipts.providers) word their `ErrorCode` from the same table: 30005 and 30006 (unknown or landline number)
are permanent, 30003 (handset unreachable) and 30007 (carrier filtering) transient.

Each message names its own `StatusCallback` URL with our log id as `ref`, so its report finds it even before the
answer does, and carries its idempotency key as `Idempotency-Key`: a Twilio-style API honouring it sends a message
whose answer was lost once when the request is retried. Twilio's own Messages API documents no such key, so there
the number may still get that SMS twice.
"""

from __future__ import annotations

import aiohttp
import orjson

from engine.channels.base import Channel, Outgoing
from engine.channels.transports.base import SETTLING_STATUSES, LookedUp, Outcome, UnreadableAnswer, coded_reason
from engine.channels.transports.http import (
    IDEMPOTENCY_KEY,
    gather_bounded,
    get_json,
    one_message_outcome,
    post_with_retries,
    send_each,
)
from engine.settings import Settings, revealed

STATUS_CALLBACK_PATH = "/v1/receipts/twilio"  # api.receipts.providers
REFERENCE_PARAMETER = "ref"  # the status callback URL's query parameter naming our log row
REASONS = {
    21610: "unsubscribed",
    21211: "invalid number",
    21614: "invalid number",
    30003: "unreachable",
    30005: "invalid number",
    30006: "invalid number",
    30007: "carrier rejected",
}


class TwilioTransport:
    """One request per message, `delivery_concurrency` at a time per batch."""

    name = "twilio"
    required: tuple[str, ...] = ("twilio_account_sid", "twilio_auth_token", "twilio_from")
    lookup_batch = 100  # one GET each, `delivery_concurrency` at a time

    def __init__(self, settings: Settings, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.session = session
        sid = settings.twilio_account_sid or ""
        self.messages_url = f"{settings.twilio_url.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages"
        self.url = f"{self.messages_url}.json"
        self.headers = {"Authorization": aiohttp.encode_basic_auth(sid, revealed(settings.twilio_auth_token) or "")}
        sender = settings.twilio_from or ""
        self.sender = {"MessagingServiceSid" if sender.startswith("MG") else "From": sender}

    async def send(self, channel: Channel, messages: list[Outgoing]) -> Outcome:
        return await send_each(messages, self._send_one, self.settings.delivery_concurrency)

    async def _send_one(self, message: Outgoing) -> Outcome:
        form = {"To": message.address, "Body": message.body, "StatusCallback": self._callback(message), **self.sender}
        headers = {**self.headers, IDEMPOTENCY_KEY: message.key}
        answer = await post_with_retries(self.session, self.settings, self.url, data=form, headers=headers)
        return one_message_outcome(message.log_id, answer, _sid, REASONS, _error)

    async def look_up(self, vendor_ids: list[str]) -> dict[str, LookedUp]:
        """Each message's status from `GET .../Messages/{sid}.json`; 404: Twilio does not know it."""

        async def one(sid: str) -> LookedUp | None:
            status, found = await get_json(self.session, f"{self.messages_url}/{sid}.json", self.headers)
            if status == 404:
                return LookedUp("unknown")
            if status != 200 or not isinstance(found, dict) or not isinstance(found.get("status"), str):
                return None
            code = found.get("error_code")
            return settled(found["status"], code if isinstance(code, int) else None) or LookedUp("sent")

        answers = await gather_bounded([one(sid) for sid in vendor_ids], self.settings.delivery_concurrency)
        return {sid: answer for sid, answer in zip(vendor_ids, answers, strict=True) if answer is not None}

    def _callback(self, message: Outgoing) -> str:
        """The message's own status callback URL, naming our log row (`ref`), so its report finds the message even
        when it comes before Twilio's answer (engine.campaigns.provider_receipts)."""
        return f"{self.settings.public_base_url}{STATUS_CALLBACK_PATH}?{REFERENCE_PARAMETER}={message.log_id}"

    async def close(self) -> None:
        """The session is the sender's."""


def settled(state: str, code: int | None) -> LookedUp | None:
    """What Twilio's message status `state` (with its `ErrorCode`) says of a message, as status callbacks and
    lookups give them; None while it is on the way (queued, sending, sent)."""
    status = SETTLING_STATUSES.get(state)
    if status != "failed":
        return None if status is None else LookedUp("delivered")
    reason = coded_reason(REASONS, code, None) or (f"{state} (error {code})" if code is not None else state)
    return LookedUp("failed", reason)


def _sid(body: bytes) -> str:
    sid = _field(body, "sid")
    if not isinstance(sid, str) or not sid:
        raise UnreadableAnswer(f"Twilio answered without the message's sid: {body[:200]!r}")
    return sid


def _error(body: bytes) -> tuple[object, str | None]:
    """A refusal's `code` and `message`."""
    words = _field(body, "message")
    return _field(body, "code"), None if words is None else str(words)


def _field(body: bytes, name: str) -> object:
    try:
        found = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return found.get(name) if isinstance(found, dict) else None
