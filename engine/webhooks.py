"""Standard Webhooks signing and verification (https://www.standardwebhooks.com), written here.

The delivery vendor signs the receipts it posts to the CRM this way, and the CRM signs its own outbound
notifications the same way, so both sides share this one module. A webhook carries three headers:
`webhook-id` (unique per message, kept across retries), `webhook-timestamp` (integer Unix seconds of the
attempt) and `webhook-signature` (space-separated `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
entries, several during a key rotation). Secrets are `whsec_` followed by the base64 of the key bytes.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format marker, not a secret
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
DEFAULT_TOLERANCE_SECONDS = 5 * 60
SIGNATURE_VERSION = "v1"


class VerificationFailure(enum.StrEnum):
    """Why a webhook was refused; the value is safe to show to the sender."""

    MISSING_HEADER = "missing_header"
    INVALID_TIMESTAMP = "invalid_timestamp"
    STALE_TIMESTAMP = "stale_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    BAD_SIGNATURE = "bad_signature"


class WebhookVerificationError(Exception):
    """A webhook failed verification; `reason` says which check refused it."""

    def __init__(self, reason: VerificationFailure, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


def generate_secret(num_bytes: int = 32) -> str:
    """A fresh random signing secret in the `whsec_<base64>` form (the spec allows 24 to 64 bytes)."""
    if not 24 <= num_bytes <= 64:
        raise ValueError("a webhook secret must be between 24 and 64 bytes")
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(num_bytes)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key a `whsec_<base64>` secret stands for (the prefix is optional)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise ValueError("a webhook secret must be 'whsec_' followed by base64") from exc
    if not key:
        raise ValueError("a webhook secret must not be empty")
    return key


def signature(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """One `v1,<base64>` signature entry of a message."""
    payload = body.encode("utf-8") if isinstance(body, str) else body
    signed = b"%s.%d.%s" % (msg_id.encode("utf-8"), timestamp, payload)
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def sign(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> dict[str, str]:
    """The three Standard Webhooks headers for posting `body` as message `msg_id` at `timestamp`."""
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, msg_id, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    now: float | None = None,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
) -> str:
    """Check a received webhook and return its `webhook-id`; raise `WebhookVerificationError` if not genuine.

    `headers` may be any mapping (its key case does not matter). `body` must be the raw bytes as received:
    re-serialised JSON does not verify. The timestamp must lie within `tolerance_seconds` of `now` (default:
    the current time) in either direction, which bounds how long a captured request can be replayed.
    """
    msg_id = _header(headers, ID_HEADER)
    raw_timestamp = _header(headers, TIMESTAMP_HEADER)
    signatures = _header(headers, SIGNATURE_HEADER)
    if not (raw_timestamp.isascii() and raw_timestamp.isdigit()):
        raise WebhookVerificationError(
            VerificationFailure.INVALID_TIMESTAMP, f"{TIMESTAMP_HEADER} is not integer seconds"
        )
    timestamp = int(raw_timestamp)
    current = time.time() if now is None else now
    if timestamp < current - tolerance_seconds:
        raise WebhookVerificationError(VerificationFailure.STALE_TIMESTAMP, "the message is too old")
    if timestamp > current + tolerance_seconds:
        raise WebhookVerificationError(VerificationFailure.FUTURE_TIMESTAMP, "the message is in the future")
    expected = signature(secret, msg_id, timestamp, body).encode("ascii")
    offered = (entry.encode("utf-8") for entry in signatures.split(" ") if entry)
    if not any(hmac.compare_digest(expected, entry) for entry in offered):
        raise WebhookVerificationError(VerificationFailure.BAD_SIGNATURE, "no signature matches")
    return msg_id


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    if not value:
        raise WebhookVerificationError(VerificationFailure.MISSING_HEADER, f"{name} is missing")
    return value
