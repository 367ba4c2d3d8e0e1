"""The webhook channel: each message posted as JSON to `webhook_channel_url`, signed per Standard Webhooks.

The body names the message (`message_id`, its communication-log id), the customer (`customer_id`, and
`external_id`, the channel's address) and what to say (`body`). `webhook-id` is the message's
idempotency key, the same on every retry, so the receiver can drop a message it already has (as Standard Webhooks
asks receivers to do). Any 2xx is acceptance; the receiver's other 4xx fail the message permanently.
"""

from __future__ import annotations

import time

import aiohttp
import orjson

from engine import webhooks
from engine.channels.base import Channel, Outgoing
from engine.channels.transports.base import Outcome
from engine.channels.transports.http import one_message_outcome, post_with_retries, send_each
from engine.settings import Settings, revealed


class WebhookTransport:
    """One signed POST per message, `delivery_concurrency` at a time per batch."""

    name = "webhook"
    required: tuple[str, ...] = ("webhook_channel_url", "webhook_channel_secret")

    def __init__(self, settings: Settings, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.session = session
        self.url = settings.webhook_channel_url or ""
        self.secret = revealed(settings.webhook_channel_secret) or ""

    async def send(self, channel: Channel, messages: list[Outgoing]) -> Outcome:
        return await send_each(messages, lambda message: self._send_one(channel, message),
                               self.settings.delivery_concurrency)  # fmt: skip

    async def _send_one(self, channel: Channel, message: Outgoing) -> Outcome:
        body = orjson.dumps(
            {"type": "message", "channel": channel.name, "message_id": message.log_id,
             "customer_id": message.customer_id, "external_id": message.address, "body": message.body}
        )  # fmt: skip
        signature = webhooks.sign(self.secret, message.key, int(time.time()), body)
        headers = {"Content-Type": "application/json", **signature}
        answer = await post_with_retries(self.session, self.settings, self.url, data=body, headers=headers)
        return one_message_outcome(message.log_id, answer, lambda _: message.key)

    async def close(self) -> None:
        """The session is the sender's."""
