"""E-mail over a Postmark-style HTTP API: one `POST /email/batch` per batch (up to 500 messages).

The request carries each message's text and HTML bodies and its headers (`Message-ID`, `List-Unsubscribe`, ...,
from `engine.channels.mime`); the answer lists, in order, an `ErrorCode` per message (0: accepted, with the
provider's `MessageID`). 406 means the provider itself keeps the recipient inactive (a hard bounce, a spam
complaint or an unsubscribe it saw): permanent.

Each message carries our log id in `Metadata` (`xeno_message`), which the provider's webhooks echo, so a report
finds its message even before the answer does; the batch carries an `Idempotency-Key` made from its messages'
keys, so an API honouring it sends a batch whose answer was lost once when it is posted again. Postmark itself
documents no such key: there those messages may go out twice (with one `Message-ID`).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from engine.channels.base import Channel, Outgoing
from engine.channels.mime import email_content
from engine.channels.transports.base import LookedUp, Outcome, UnreadableAnswer
from engine.channels.transports.http import IDEMPOTENCY_KEY, batch_key, gather_bounded, get_json, post_with_retries
from engine.settings import Settings, revealed

ACCEPTED = 0
NOT_FOUND = 701  # a message id the provider does not know (its details answer 422 with this code)
METADATA_REFERENCE = "xeno_message"  # the Metadata field naming our log row; the provider's webhooks echo it
REASONS = {300: "invalid address", 406: "inactive recipient"}  # the provider's codes we have words for


def _message(settings: Settings, channel: Channel, message: Outgoing) -> dict[str, Any]:
    content = email_content(settings, channel, message)
    return {
        "From": content.sender,
        "To": content.to,
        "Subject": content.subject,
        "TextBody": content.text,
        "HtmlBody": content.html,
        "Headers": [{"Name": name, "Value": value} for name, value in content.headers],
        "MessageStream": "broadcast",
        "Metadata": {METADATA_REFERENCE: str(message.log_id)},
    }


class EmailApiTransport:
    """Batches to the provider's batch endpoint with the server token."""

    name = "email_api"
    required: tuple[str, ...] = ("email_api_token",)
    lookup_batch = 100  # one GET each, `delivery_concurrency` at a time

    def __init__(self, settings: Settings, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.session = session
        self.base_url = settings.email_api_url.rstrip("/")
        self.url = f"{self.base_url}/email/batch"
        self.headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "X-Postmark-Server-Token": revealed(settings.email_api_token) or "",
        }

    async def send(self, channel: Channel, messages: list[Outgoing]) -> Outcome:
        body = orjson.dumps([_message(self.settings, channel, message) for message in messages])
        headers = {**self.headers, IDEMPOTENCY_KEY: batch_key(messages)}
        answer = await post_with_retries(self.session, self.settings, self.url, data=body, headers=headers)
        outcome = Outcome(attempts=answer.attempts)
        if answer.retryable:
            outcome.failed = [(message.log_id, answer.not_accepted()) for message in messages]
        elif not answer.ok:
            reason = answer.refusal(_words(answer.body))
            outcome.failed = [(message.log_id, reason) for message in messages]
        else:
            for message, result in zip(messages, _results(answer.body, len(messages)), strict=True):
                code, words, provider_id = result
                if code == ACCEPTED:
                    outcome.sent.append((message.log_id, provider_id))
                else:
                    reason = f"{REASONS.get(code, 'refused')} (error {code}): {words}"
                    outcome.failed.append((message.log_id, reason))
        return outcome

    async def look_up(self, vendor_ids: list[str]) -> dict[str, LookedUp]:
        """Each message's fate from its events (`GET /messages/outbound/{id}/details`): Delivered, or Bounced (the
        bounce's kind is not among them, so its reason decides whether it is permanent)."""

        async def one(message_id: str) -> LookedUp | None:
            url = f"{self.base_url}/messages/outbound/{message_id}/details"
            status, found = await get_json(self.session, url, self.headers)
            if status == 422 and isinstance(found, dict) and found.get("ErrorCode") == NOT_FOUND:
                return LookedUp("unknown")
            if status != 200 or not isinstance(found, dict) or not isinstance(found.get("MessageEvents"), list):
                return None
            return _fate([event for event in found["MessageEvents"] if isinstance(event, dict)])

        answers = await gather_bounded(
            [one(message_id) for message_id in vendor_ids], self.settings.delivery_concurrency
        )
        return {
            message_id: answer for message_id, answer in zip(vendor_ids, answers, strict=True) if answer is not None
        }

    async def close(self) -> None:
        """The session is the sender's."""


def _fate(events: list[dict[str, Any]]) -> LookedUp:
    """A message's status from its events: the first Delivered or Bounced one settles it; else it is on the way."""
    for event in events:
        at = event.get("ReceivedAt") if isinstance(event.get("ReceivedAt"), str) else None
        if event.get("Type") == "Delivered":
            return LookedUp("delivered", occurred_at=at)
        if event.get("Type") == "Bounced":
            details = event.get("Details")
            summary = details.get("Summary") if isinstance(details, dict) else None
            return LookedUp("failed", f"Bounced: {summary or 'no summary'}", occurred_at=at)
    return LookedUp("sent")


def _words(body: bytes) -> str:
    try:
        return str(orjson.loads(body)["Message"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return body[:200].decode(errors="replace")


def _results(body: bytes, count: int) -> list[tuple[int, str, str]]:
    """Per message: its error code, the provider's words, and its id (empty unless accepted)."""
    try:
        results = [
            (int(item["ErrorCode"]), str(item.get("Message", "")), str(item.get("MessageID") or ""))
            for item in orjson.loads(body)
        ]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        results = []
    if len(results) != count or any(code == ACCEPTED and not provider_id for code, _, provider_id in results):
        raise UnreadableAnswer(f"the e-mail API answered without a result for each of the {count} messages")
    return results
