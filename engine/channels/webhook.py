"""Webhook: the rendered message, posted to the installation's own URL, signed like every webhook we send.

For reaching people through a system of the team's own (an app's push service, a call centre's queue): each
message is a JSON POST naming the customer by their `external_id`, signed per Standard Webhooks
(`engine.webhooks`, `transports/webhook.py`). No consent column is asked: the receiving system owns consent for
what it does with the message.
"""

from __future__ import annotations

from engine.channels.base import Channel

CHANNEL = Channel(
    name="webhook",
    label="webhook",
    address="external_id",
    address_label="external id",
    consent=None,
    transports=("simulator", "webhook"),
    max_length=100_000,
    writing="Webhook: no subject; the message as the receiving system will show it.",
    failure_reasons=("refused by the receiver",),
)
