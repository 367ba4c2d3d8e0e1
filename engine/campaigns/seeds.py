"""Send a test: a campaign's message, rendered for one sample customer, to a few seed addresses before launch.

The message is rendered as the launch would render it (the channel's opt-out line included) and goes out through
the channel's configured transport, so the seeds get what customers will get: over SMTP the same MIME, HTML part
and headers. An e-mail's subject starts with `[TEST] `. A test is not one of the campaign's messages: it is not
logged, counts toward no cap, carries no unsubscribe link (it names no customer), and its references are negative,
so receipts about it change no log row. Seeds on the suppression list are not sent to, and say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import polars as pl
from sqlalchemy import Engine

from engine.campaigns.templates import CampaignTemplates, MessageTemplate
from engine.channels import Channel
from engine.channels.base import Outgoing
from engine.channels.transports import close_transports, open_transports
from engine.consent.opt_out import with_opt_out
from engine.consent.suppression import skip_reason, suppressed_reasons
from engine.errors import Invalid
from engine.settings import Settings

MAX_SEEDS = 10
TEST_SUBJECT = "[TEST] "


class SeedProblem(Invalid, ValueError):
    """The test cannot be sent as asked (the message cannot be rendered for the sample, or is too long)."""


@dataclass(frozen=True)
class SeedResult:
    """What became of the test to one seed: sent (with the provider's id) or not (with the reason)."""

    address: str
    sent: bool
    detail: str


@dataclass(frozen=True)
class SeedMessage:
    """The test as rendered for the sample customer."""

    body: str
    subject: str | None
    html: str | None = None  # the rendered HTML template, if the campaign has one


def _rendered(template: MessageTemplate, sample: Mapping[str, Any]) -> str:
    rendered = template.render_frame(pl.DataFrame([dict(sample)]))
    if rendered["render_error"][0] is not None:
        raise SeedProblem(f"customer {sample['customer_id']}: {rendered['render_error'][0]}")
    return str(rendered["message"][0])


def render_seed(channel: Channel, templates: CampaignTemplates, sample: Mapping[str, Any]) -> SeedMessage:
    """The test message for `sample` (a features row); `SeedProblem`, naming the customer, when it cannot go on
    the channel."""
    text = with_opt_out(pl.Series([_rendered(templates.message, sample)]), channel.opt_out)[0]
    too_long = channel.too_long(text)
    if too_long is not None:
        raise SeedProblem(f"customer {sample['customer_id']}: {too_long}")
    title = None if templates.subject is None else TEST_SUBJECT + templates.subject.render(sample)
    html = None if templates.html is None else _rendered(templates.html, sample)
    return SeedMessage(text, title, html)


async def send_seeds(
    db: Engine, settings: Settings, channel: Channel, message: SeedMessage, addresses: list[str], key: str
) -> list[SeedResult]:
    """Send `message` to each seed address (but suppressed ones) through the channel's transport; `key` prefixes
    each test's idempotency key, so a test sent again is a new message."""
    with db.connect() as conn:
        suppressed = suppressed_reasons(conn, channel.name, addresses)
    results = {address: SeedResult(address, False, skip_reason(suppressed[address])) for address in suppressed}
    outgoing = [
        Outgoing(-(index + 1), f"{key}-{index}", address, message.body, message.subject, None, message.html)
        for index, address in enumerate(addresses)
        if address not in suppressed
    ]
    if outgoing:
        timeout = aiohttp.ClientTimeout(total=settings.delivery_request_timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            transports = open_transports(settings, session)
            try:
                outcome = await transports[channel.name].send(channel, outgoing)
            finally:
                await close_transports(transports)
        by_reference = {message.log_id: message.address for message in outgoing}
        results |= {by_reference[ref]: SeedResult(by_reference[ref], True, sent) for ref, sent in outcome.sent}
        results |= {by_reference[ref]: SeedResult(by_reference[ref], False, why) for ref, why in outcome.failed}
    return [results[address] for address in addresses if address in results]
