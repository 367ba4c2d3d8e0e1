"""SMS: to the customer's phone number, with their SMS consent; measured in GSM-7 or UCS-2 segments.

One SMS holds 160 characters of the GSM alphabet (its extension characters count twice), or 70 once the text has
any other character (₹, emoji). A longer message is split into segments of 153 (GSM) or 67 (UCS-2) characters,
each billed as one SMS; carriers take up to ten, so a message longer than that is not sent.
"""

from __future__ import annotations

from engine.channels.base import Channel, Size

GSM_SINGLE, GSM_PART = 160, 153
UNICODE_SINGLE, UNICODE_PART = 70, 67
MAX_SEGMENTS = 10
_GSM = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€")


def sms_size(text: str) -> Size:
    """The text in SMS characters and segments; `part_length` is what one SMS alone holds (160 or 70)."""
    if all(character in _GSM or character in _GSM_EXTENDED for character in text):
        characters = len(text) + sum(character in _GSM_EXTENDED for character in text)
        single, part = GSM_SINGLE, GSM_PART
    else:
        characters, single, part = len(text), UNICODE_SINGLE, UNICODE_PART
    parts = 1 if characters <= single else -(-characters // part)
    return Size(characters, parts, single)


CHANNEL = Channel(
    name="sms",
    label="SMS",
    address="phone",
    address_label="phone number",
    consent="sms_consent",
    transports=("simulator", "twilio"),
    max_length=MAX_SEGMENTS * GSM_PART,
    size=sms_size,
    opt_out="Reply STOP to opt out",
    writing=(
        "SMS: no subject; at most 160 characters as the longest recipient gets it; GSM characters only (write "
        "“Rs.” rather than “₹”, no emoji)."
    ),
    failure_reasons=("invalid number", "carrier rejected", "unreachable", "unsubscribed"),
)
