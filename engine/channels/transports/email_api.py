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
from engine.channels.transports.base import Outcome, UnreadableAnswer
from engine.channels.transports.http import IDEMPOTENCY_KEY, batch_key, post_with_retries
from engine.settings import Settings

ACCEPTED = 0
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

    def __init__(self, settings: Settings, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.session = session
        self.url = f"{settings.email_api_url.rstrip('/')}/email/batch"
        self.headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "X-Postmark-Server-Token": settings.email_api_token or "",
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

    async def close(self) -> None:
        """The session is the sender's."""


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
