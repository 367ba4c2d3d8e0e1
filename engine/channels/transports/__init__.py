"""Transports: how a channel's messages physically leave, one module per provider protocol.

Each channel lists the transports that can carry it (`Channel.transports`, the simulator first); the settings pick
one per channel (`XENO_CHANNEL_TRANSPORTS`, default: the simulator) and hold its configuration. `open_transports`
gives a sender one transport per channel for its lifetime, so connections (SMTP's pool, HTTP keep-alive) are
reused across batches; configuration a chosen transport lacks is refused when the settings load.
"""

from __future__ import annotations

import aiohttp

from engine.channels import CHANNEL_NAMES, CHANNELS
from engine.channels.transports.base import Transport
from engine.channels.transports.email_api import EmailApiTransport
from engine.channels.transports.meta import MetaTransport
from engine.channels.transports.simulator import SimulatorTransport
from engine.channels.transports.smtp import SmtpTransport
from engine.channels.transports.twilio import TwilioTransport
from engine.channels.transports.webhook import WebhookTransport
from engine.settings import Settings
from engine.webhooks import secret_key

SIMULATOR = SimulatorTransport.name
TRANSPORTS: dict[str, type[Transport]] = {
    transport.name: transport
    for transport in (SimulatorTransport, SmtpTransport, EmailApiTransport, TwilioTransport, MetaTransport,
                      WebhookTransport)
}  # fmt: skip


def transport_name(settings: Settings, channel: str) -> str:
    return settings.channel_transports.get(channel, SIMULATOR)


def configuration_problems(settings: Settings) -> list[str]:
    """What is wrong with the per-channel settings, each naming the setting to fix."""
    problems = []
    for field, values in (
        ("XENO_CHANNEL_TRANSPORTS", settings.channel_transports),
        ("XENO_CHANNEL_FREQUENCY_CAPS", settings.channel_frequency_caps),
        ("XENO_CHANNEL_RATE_LIMITS", settings.channel_rate_limits),
    ):
        problems += [f"{field}: unknown channel {name!r} (channels: {', '.join(CHANNEL_NAMES)})"
                     for name in values if name not in CHANNELS]  # fmt: skip
    for channel, transport in settings.channel_transports.items():
        if channel not in CHANNELS:
            continue
        if transport not in CHANNELS[channel].transports:
            problems.append(
                f"XENO_CHANNEL_TRANSPORTS: {channel} cannot go by {transport!r} "
                f"(it can by {', '.join(CHANNELS[channel].transports)})"
            )
            continue
        missing = [name for name in TRANSPORTS[transport].required if not getattr(settings, name)]
        if missing:
            problems.append(f"{channel} by {transport} needs " + ", ".join(f"XENO_{name.upper()}" for name in missing))
    real = sorted(channel for channel, transport in settings.channel_transports.items() if transport != SIMULATOR)
    if settings.environment == "production" and real and settings.public_url is None:
        problems.append(
            f"XENO_PUBLIC_URL: {', '.join(real)} messages carry links back to the API (unsubscribe, preferences, "
            "opens and clicks, provider status callbacks); set the address customers and providers reach it at"
        )
    if settings.webhook_channel_secret:
        try:
            secret_key(settings.webhook_channel_secret.get_secret_value())
        except ValueError as problem:
            problems.append(f"XENO_WEBHOOK_CHANNEL_SECRET: {problem}")
    return problems


def open_transports(settings: Settings, session: aiohttp.ClientSession) -> dict[str, Transport]:
    """One transport per channel, as the settings choose; channels sharing a transport share one instance."""
    opened: dict[str, Transport] = {}
    by_channel = {}
    for channel in CHANNEL_NAMES:
        name = transport_name(settings, channel)
        if name not in opened:
            opened[name] = TRANSPORTS[name](settings, session)
        by_channel[channel] = opened[name]
    return by_channel


async def close_transports(transports: dict[str, Transport]) -> None:
    for transport in {id(transport): transport for transport in transports.values()}.values():
        await transport.close()
