"""Standard Webhooks signing: known answers computed by hand, and every way verification must refuse."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

import pytest

from engine.webhooks import (
    VerificationFailure,
    WebhookVerificationError,
    generate_secret,
    secret_key,
    sign,
    verify,
)

KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()
MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
TIMESTAMP = 1_700_000_000
BODY = b'[{"vendor_message_id":"vm_1","status":"delivered"}]'

Tamper = Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]]


def _by_hand(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _reason(secret: str, headers: dict[str, str], body: bytes, now: float) -> VerificationFailure:
    with pytest.raises(WebhookVerificationError) as caught:
        verify(secret, headers, body, now=now)
    return caught.value.reason


def test_sign_matches_an_hmac_computed_by_hand() -> None:
    headers = sign(SECRET, MSG_ID, TIMESTAMP, BODY)

    assert headers == {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": _by_hand(KEY, MSG_ID, TIMESTAMP, BODY),
    }


def test_sign_matches_the_reference_libraries_published_vector() -> None:
    headers = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        '{"test": 2432232314}',
    )

    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_signed_message_verifies_and_yields_its_id() -> None:
    headers = sign(SECRET, MSG_ID, TIMESTAMP, BODY)

    assert verify(SECRET, headers, BODY, now=TIMESTAMP) == MSG_ID


def test_a_secret_without_the_prefix_is_the_same_key() -> None:
    bare = SECRET.removeprefix("whsec_")

    assert verify(bare, sign(SECRET, MSG_ID, TIMESTAMP, BODY), BODY, now=TIMESTAMP) == MSG_ID


def test_header_names_are_matched_whatever_their_case() -> None:
    headers = {k.title(): v for k, v in sign(SECRET, MSG_ID, TIMESTAMP, BODY).items()}

    assert verify(SECRET, headers, BODY, now=TIMESTAMP) == MSG_ID


def test_any_one_of_several_signatures_is_enough() -> None:
    old_key = b"k" * 32
    headers = sign(SECRET, MSG_ID, TIMESTAMP, BODY)
    headers["webhook-signature"] = " ".join(
        [_by_hand(old_key, MSG_ID, TIMESTAMP, BODY), "v1a,bm90LWNoZWNrZWQ=", headers["webhook-signature"]]
    )

    assert verify(SECRET, headers, BODY, now=TIMESTAMP) == MSG_ID
    rotated_secret = "whsec_" + base64.b64encode(old_key).decode()
    assert verify(rotated_secret, headers, BODY, now=TIMESTAMP) == MSG_ID


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda h, b: (h, b.replace(b"delivered", b"failed")), id="body"),
        pytest.param(lambda h, b: ({**h, "webhook-id": "msg_other"}, b), id="id"),
        pytest.param(lambda h, b: ({**h, "webhook-timestamp": str(TIMESTAMP + 1)}, b), id="timestamp"),
        pytest.param(lambda h, b: ({**h, "webhook-signature": "v2" + h["webhook-signature"][2:]}, b), id="version"),
        pytest.param(lambda h, b: ({**h, "webhook-signature": "v1,\u00e9t\u00e9"}, b), id="non-ascii"),
    ],
)
def test_tampering_with_any_signed_part_is_a_bad_signature(tamper: Tamper) -> None:
    headers, body = tamper(sign(SECRET, MSG_ID, TIMESTAMP, BODY), BODY)

    assert _reason(SECRET, headers, body, now=TIMESTAMP) is VerificationFailure.BAD_SIGNATURE


def test_the_wrong_secret_is_a_bad_signature() -> None:
    headers = sign(SECRET, MSG_ID, TIMESTAMP, BODY)

    assert _reason(generate_secret(), headers, BODY, now=TIMESTAMP) is VerificationFailure.BAD_SIGNATURE


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_named(missing: str) -> None:
    headers = sign(SECRET, MSG_ID, TIMESTAMP, BODY)
    del headers[missing]

    with pytest.raises(WebhookVerificationError) as caught:
        verify(SECRET, headers, BODY, now=TIMESTAMP)
    assert caught.value.reason is VerificationFailure.MISSING_HEADER
    assert missing in str(caught.value)


@pytest.mark.parametrize("raw", ["soon", "1.7e9", "-5", " 1700000000", ""])
def test_a_timestamp_that_is_not_integer_seconds_is_refused(raw: str) -> None:
    headers = {**sign(SECRET, MSG_ID, TIMESTAMP, BODY), "webhook-timestamp": raw}

    assert _reason(SECRET, headers, BODY, now=TIMESTAMP) in {
        VerificationFailure.INVALID_TIMESTAMP,
        VerificationFailure.MISSING_HEADER,
    }


@pytest.mark.parametrize(
    ("offset", "outcome"),
    [
        (-300, None),
        (300, None),
        (301, VerificationFailure.STALE_TIMESTAMP),
        (-301, VerificationFailure.FUTURE_TIMESTAMP),
    ],
)
def test_timestamps_are_accepted_within_five_minutes_either_way(
    offset: int, outcome: VerificationFailure | None
) -> None:
    headers = sign(SECRET, MSG_ID, TIMESTAMP, BODY)
    now = TIMESTAMP + offset

    if outcome is None:
        assert verify(SECRET, headers, BODY, now=now) == MSG_ID
    else:
        assert _reason(SECRET, headers, BODY, now=now) is outcome


def test_a_custom_tolerance_is_honoured() -> None:
    headers = sign(SECRET, MSG_ID, TIMESTAMP, BODY)

    with pytest.raises(WebhookVerificationError):
        verify(SECRET, headers, BODY, now=TIMESTAMP + 31, tolerance_seconds=30)
    assert verify(SECRET, headers, BODY, now=TIMESTAMP + 3600, tolerance_seconds=7200) == MSG_ID


def test_generated_secrets_are_random_and_decode_to_their_length() -> None:
    first, second = generate_secret(), generate_secret(24)

    assert first.startswith("whsec_")
    assert len(secret_key(first)) == 32
    assert len(secret_key(second)) == 24
    assert secret_key(first) != secret_key(generate_secret())


@pytest.mark.parametrize("bad", ["whsec_not base64!", "whsec_", ""])
def test_a_malformed_secret_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="secret"):
        secret_key(bad)


def test_a_secret_length_outside_the_spec_is_refused() -> None:
    with pytest.raises(ValueError, match="24 and 64"):
        generate_secret(16)
