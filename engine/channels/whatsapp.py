"""WhatsApp: template messages to the customer's phone number, only with their WhatsApp opt-in.

WhatsApp lets a business start a conversation only with a template Meta approved beforehand. The campaign's
rendered message fills that template's one body parameter (`XENO_META_TEMPLATE`, see `transports/meta.py`);
Meta takes up to 1,024 characters there. Opt-in to WhatsApp is separate from SMS consent: integrators send it as
the `whatsapp_consent` trait (`identify`), and a customer without it is never messaged on WhatsApp.
"""

from __future__ import annotations

from engine.channels.base import Channel

CHANNEL = Channel(
    name="whatsapp",
    label="WhatsApp",
    address="phone",
    address_label="phone number",
    consent="trait_whatsapp_consent",
    transports=("simulator", "meta"),
    max_length=1_024,
    writing="WhatsApp: no subject; one short paragraph of plain text (it fills an approved template), no links "
    "or emoji the brand has not approved.",
    failure_reasons=("invalid number", "not a whatsapp user", "unreachable", "unsubscribed"),
)
