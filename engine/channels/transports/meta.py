"""WhatsApp over Meta's Cloud API: `POST /{phone-number-id}/messages`, one template message each.

A business may start a WhatsApp conversation only with a template Meta approved: each message is the template in
`meta_template` (`meta_template_language`) with the rendered message as its one body parameter. 200 answers the
message's `wamid`. A refusal's `error.code` says why: 131026 (the number is not on WhatsApp) and 131050 (the
person stopped marketing messages) are permanent; 130429, 131048 and 131056 (throughput and spam rate limits) are
transient. Each message carries our log id as `biz_opaque_callback_data`, which Meta's status webhooks echo, so a
report finds its message even before the answer does. The API has no idempotency keys: a request whose answer was
lost is sent again.
"""

from __future__ import annotations

import aiohttp
import orjson

from engine.channels.base import Channel, Outgoing
from engine.channels.transports.base import Outcome, UnreadableAnswer
from engine.channels.transports.http import one_message_outcome, post_with_retries, send_each
from engine.settings import Settings, revealed

REASONS = {
    131026: "not a whatsapp user",
    131050: "unsubscribed",
    130429: "temporarily rate limited",
    131048: "temporarily rate limited",
    131056: "temporarily rate limited",
}


class MetaTransport:
    """One request per message, `delivery_concurrency` at a time per batch."""

    name = "meta"
    required: tuple[str, ...] = ("meta_token", "meta_phone_number_id", "meta_template")

    def __init__(self, settings: Settings, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.session = session
        self.url = f"{settings.meta_url.rstrip('/')}/{settings.meta_phone_number_id}/messages"
        self.headers = {"Authorization": f"Bearer {revealed(settings.meta_token)}", "Content-Type": "application/json"}

    async def send(self, channel: Channel, messages: list[Outgoing]) -> Outcome:
        return await send_each(messages, self._send_one, self.settings.delivery_concurrency)

    def _request(self, message: Outgoing) -> bytes:
        parameter = {"type": "text", "text": message.body}
        template = {
            "name": self.settings.meta_template,
            "language": {"code": self.settings.meta_template_language},
            "components": [{"type": "body", "parameters": [parameter]}],
        }
        return orjson.dumps(
            {"messaging_product": "whatsapp", "recipient_type": "individual", "to": message.address,
             "type": "template", "template": template, "biz_opaque_callback_data": str(message.log_id)}
        )  # fmt: skip

    async def _send_one(self, message: Outgoing) -> Outcome:
        answer = await post_with_retries(
            self.session, self.settings, self.url, data=self._request(message), headers=self.headers
        )
        return one_message_outcome(message.log_id, answer, _message_id, REASONS, _error)

    async def close(self) -> None:
        """The session is the sender's."""


def _message_id(body: bytes) -> str:
    try:
        found = orjson.loads(body)["messages"][0]["id"]
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
        found = None
    if not isinstance(found, str) or not found:
        raise UnreadableAnswer(f"Meta answered without the message's id: {body[:200]!r}")
    return found


def _error(body: bytes) -> tuple[int | None, str]:
    try:
        error = orjson.loads(body)["error"]
        return int(error["code"]), str(error.get("message", ""))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None, body[:200].decode(errors="replace")
