"""Signed links: what a customer can open without signing in (unsubscribe, preferences, tracking), and nobody can forge.

A link's token is `<payload>.<signature>`: the payload is compact JSON in URL-safe base64, the signature an
HMAC-SHA256 of the purpose and the payload under a key derived from `XENO_SECRET_KEY`, so a token made for one
purpose (a click) is refused for another (an unsubscribe). Links sit in messages people keep for years, so they
do not expire unless made with `expires_at`, and rotating the secret keeps old links working while the old secret
is listed in `XENO_PREVIOUS_SECRET_KEYS`. A token that does not verify raises `BadLink`; one past its time
`ExpiredLink`, so a page can tell the person which it is instead of failing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import orjson

from engine.errors import NotFound
from engine.settings import Settings

SIGNATURE_BYTES = 16  # 128 bits: forging one is out of reach, and the URL stays short
EXPIRES = "exp"  # the payload key of an expiring token's end, in Unix seconds

UNSUBSCRIBE = "unsubscribe"
PREFERENCES = "preferences"


class LinkError(NotFound, ValueError):
    """A link token that cannot be used; the message is safe to show to whoever opened it."""


class BadLink(LinkError):
    """The token was not made by us for this purpose (altered, truncated, forged, or from another installation)."""


class ExpiredLink(LinkError):
    """The token was ours, but its time is over."""


@cache
def _key(secret: str) -> bytes:
    return hmac.digest(secret.encode(), b"xeno signed links v1", hashlib.sha256)


def _mac(secret: str, purpose: str, body: bytes) -> bytes:
    return hmac.digest(_key(secret), purpose.encode() + b"." + body, hashlib.sha256)[:SIGNATURE_BYTES]


def _encode(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _decode(text: bytes) -> bytes:
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def sign(settings: Settings, purpose: str, payload: Mapping[str, Any], *, expires_at: datetime | None = None) -> str:
    """A token carrying `payload` (JSON data) for `purpose`, valid for ever unless `expires_at` is given."""
    data = dict(payload)
    if expires_at is not None:
        data[EXPIRES] = int(expires_at.timestamp())
    body = _encode(orjson.dumps(data, option=orjson.OPT_SORT_KEYS))
    return (body + b"." + _encode(_mac(settings.secret_key.get_secret_value(), purpose, body))).decode()


def verify(settings: Settings, purpose: str, token: str, *, now: datetime | None = None) -> dict[str, Any]:
    """The payload of a token we signed for `purpose`; `BadLink` or `ExpiredLink` otherwise."""
    body, _, signature = token.encode().partition(b".")
    try:
        offered = _decode(signature)
        payload = orjson.loads(_decode(body))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise BadLink("this link is damaged: it may have been cut short or changed") from None
    secrets = [key.get_secret_value() for key in (settings.secret_key, *settings.previous_secret_keys)]
    if not body or not any(hmac.compare_digest(_mac(secret, purpose, body), offered) for secret in secrets):
        raise BadLink("this link was not made by us, or was changed after it was sent")
    if not isinstance(payload, dict):
        raise BadLink("this link does not say what it is for")
    expires = payload.pop(EXPIRES, None)
    if expires is not None and (now or datetime.now(UTC)).timestamp() >= expires:
        raise ExpiredLink("this link has expired")
    return payload


@dataclass(frozen=True)
class ConsentLink:
    """Whose consent an unsubscribe or preference link manages: the customer, the channel of the message it came
    in (None: every channel), and that message's log id (it tells the address, campaign and topic)."""

    customer_id: int
    channel: str | None = None
    message_id: int | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"c": self.customer_id}
        if self.channel is not None:
            data["ch"] = self.channel
        if self.message_id is not None:
            data["m"] = self.message_id
        return data

    @classmethod
    def from_token(cls, settings: Settings, purpose: str, token: str) -> ConsentLink:
        """The link a token of `purpose` stands for; `LinkError` when it is not one of ours."""
        data = verify(settings, purpose, token)
        customer, channel, message = data.get("c"), data.get("ch"), data.get("m")
        if not isinstance(customer, int) or not isinstance(channel, str | None) or not isinstance(message, int | None):
            raise BadLink("this link does not say whose preferences it is for")
        return cls(customer, channel, message)


def unsubscribe_url(settings: Settings, customer_id: int, channel: str, message_id: int | None = None) -> str:
    """The one-click unsubscribe URL of a message (RFC 8058: POST unsubscribes, GET shows a page that asks first),
    for its `List-Unsubscribe` header and its footer."""
    token = sign(settings, UNSUBSCRIBE, ConsentLink(customer_id, channel, message_id).payload())
    return f"{settings.public_base_url}/v1/unsubscribe/{token}"


def preferences_url(
    settings: Settings, customer_id: int, channel: str | None = None, message_id: int | None = None
) -> str:
    """The URL of the customer's preference page (channels and topics), which needs no sign-in."""
    token = sign(settings, PREFERENCES, ConsentLink(customer_id, channel, message_id).payload())
    return f"{settings.public_base_url}/v1/preferences/{token}"
