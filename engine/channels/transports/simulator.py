"""The bundled vendor simulator (`api/vendor`), or any vendor speaking its batch protocol: every channel, one
request per batch.

`POST /v1/messages/batch` takes up to 1,000 messages, each with its idempotency key, so a retry of a request the
vendor did receive sends nothing twice (it answers `duplicate: true` for those). A batch it refuses as malformed
(a 4xx other than the retryable ones) is posted again one message at a time, so only the bad messages fail, with
the vendor's reason. Its receipts come back signed to `/v1/receipts`, and it answers status lookups
(`POST /v1/messages/status`, 1,000 ids a request; `engine.campaigns.reconcile`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import orjson

from engine.channels.base import Channel, Outgoing
from engine.channels.transports.base import LookedUp, Outcome, UnreadableAnswer
from engine.channels.transports.http import Answer, post_with_retries
from engine.settings import Settings

log = logging.getLogger(__name__)
LOOKUP_STATUSES = frozenset({"sent", "delivered", "failed", "unknown"})


def vendor_headers(settings: Settings) -> dict[str, str]:
    """The headers of a JSON request to the vendor, with its API key when one is set."""
    headers = {"Content-Type": "application/json"}
    if settings.delivery_vendor_api_key:
        headers["Authorization"] = f"Bearer {settings.delivery_vendor_api_key.get_secret_value()}"
    return headers


def _outgoing(channel: Channel, message: Outgoing) -> dict[str, Any]:
    outgoing: dict[str, Any] = {
        "channel": channel.name, "to": message.address, "body": message.body, "idempotency_key": message.key,
        "reference": message.log_id,
    }  # fmt: skip
    if channel.subject and message.subject is not None:
        outgoing["subject"] = message.subject
    return outgoing


def _accepted(answer: Answer, count: int) -> list[tuple[str, bool]]:
    """Each of the `count` messages' vendor id, and whether the vendor had it already, from a 2xx answer;
    `UnreadableAnswer` when the answer does not give them all."""
    try:
        results = orjson.loads(answer.body)["messages"]
        accepted = [(result["vendor_message_id"], bool(result.get("duplicate"))) for result in results]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        accepted = []
    if len(accepted) != count or not all(isinstance(vendor_id, str) and vendor_id for vendor_id, _ in accepted):
        raise UnreadableAnswer(
            f"the vendor answered {answer.status} without a result for each of the {count} messages: "
            f"{answer.body[:200]!r}"
        )
    return accepted


class SimulatorTransport:
    """Batches to the simulator's batch endpoint."""

    name = "simulator"
    required: tuple[str, ...] = ()
    lookup_batch = 1_000

    def __init__(self, settings: Settings, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.session = session
        self.url = f"{settings.delivery_vendor_url.rstrip('/')}/v1/messages/batch"
        self.status_url = f"{settings.delivery_vendor_url.rstrip('/')}/v1/messages/status"

    async def send(self, channel: Channel, messages: list[Outgoing]) -> Outcome:
        body = orjson.dumps({"messages": [_outgoing(channel, message) for message in messages]})
        answer = await post_with_retries(
            self.session, self.settings, self.url, data=body, headers=vendor_headers(self.settings)
        )
        outcome = Outcome(attempts=answer.attempts)
        if answer.ok:
            for message, (vendor_id, duplicate) in zip(messages, _accepted(answer, len(messages)), strict=True):
                outcome.sent.append((message.log_id, vendor_id))
                outcome.duplicates += duplicate
        elif answer.retryable:
            outcome.failed = [(message.log_id, answer.not_accepted()) for message in messages]
        elif len(messages) > 1:  # refused as malformed: find the messages at fault
            for single in await asyncio.gather(*(self.send(channel, [message]) for message in messages)):
                outcome.add(single)
            outcome.attempts = answer.attempts
        else:
            outcome.failed = [(messages[0].log_id, answer.refusal())]
        return outcome

    async def look_up(self, vendor_ids: list[str]) -> dict[str, LookedUp]:
        """The vendor's statuses of `vendor_ids`, in one request; none (logged) when it gave none."""
        body = orjson.dumps({"ids": vendor_ids})
        try:
            async with self.session.post(self.status_url, data=body, headers=vendor_headers(self.settings)) as answer:
                found = await answer.read()
                if answer.status != 200:
                    log.warning("status lookup: %s answered %d: %r", self.status_url, answer.status, found[:200])
                    return {}
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("status lookup: %s did not answer: %r", self.status_url, error)
            return {}
        try:
            messages: list[dict[str, Any]] = orjson.loads(found)["messages"]
            return {
                message["vendor_message_id"]: LookedUp(
                    message["status"], message.get("reason"), message.get("permanent"), message.get("occurred_at")
                )
                for message in messages
                if message.get("status") in LOOKUP_STATUSES
            }
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("status lookup: %s answered something else than statuses: %r", self.status_url, found[:200])
            return {}

    async def close(self) -> None:
        """The session is the sender's."""
