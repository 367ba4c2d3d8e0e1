"""The channel registry: every channel the product can send on, each declared once in a module of its own.

Adding a channel is one module here (a `Channel`, see `base.py`) listed in `_MODULES`, plus a migration that
lets `campaigns.channel` take its name (the CHECK constraint is built from `CHANNEL_NAMES`). Transports (how a
message physically goes: SMTP, a provider's HTTP API, the simulator) live in `engine.channels.transports`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

from engine.channels import email, sms, webhook, whatsapp
from engine.channels.base import Channel, Size
from engine.errors import Invalid

_MODULES = (sms, email, whatsapp, webhook)
CHANNELS: dict[str, Channel] = {module.CHANNEL.name: module.CHANNEL for module in _MODULES}
CHANNEL_NAMES: tuple[str, ...] = tuple(CHANNELS)


class UnknownChannel(Invalid, ValueError):
    """A channel name the registry does not have."""


def get_channel(name: str) -> Channel:
    """The channel called `name`; `UnknownChannel` naming the ones there are otherwise."""
    try:
        return CHANNELS[name]
    except KeyError:
        raise UnknownChannel(f"unknown channel {name!r}: use one of {', '.join(CHANNEL_NAMES)}") from None


def _known(name: str) -> str:
    return get_channel(name).name


ChannelName = Annotated[str, AfterValidator(_known), WithJsonSchema({"type": "string", "enum": list(CHANNEL_NAMES)})]
"""A channel's name in a request: validated against the registry, listed as an enum in the OpenAPI schema."""

__all__ = ["CHANNELS", "CHANNEL_NAMES", "Channel", "ChannelName", "Size", "UnknownChannel", "get_channel"]
