"""`POST /v1/receipts`: signed callbacks go on the receipts stream once; forged, stale or garbled ones do not."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import redis
from fastapi.testclient import TestClient

from engine.campaigns.receipts import STREAM
from engine.settings import get_settings
from engine.webhooks import generate_secret, sign
from tests.engine.campaigns.helpers import receipts_secret

RECEIPT = {
    "vendor_message_id": "vm_1",
    "reference": 41,
    "status": "delivered",
    "reason": None,
    "occurred_at": "2026-11-25T12:00:01.250Z",
}


@pytest.fixture
def secret() -> Iterator[str]:
    with receipts_secret(generate_secret()) as value:
        yield value


def post(client: TestClient, secret: str, payload: Any, *, webhook_id: str = "msg_1", at: float | None = None,
         body: bytes | None = None) -> Any:  # fmt: skip
    raw = body if body is not None else orjson.dumps(payload)
    headers = sign(secret, webhook_id, int(at if at is not None else time.time()), raw)
    return client.post("/v1/receipts", content=raw, headers={**headers, "content-type": "application/json"})


def stream_payloads(client: redis.Redis) -> list[Any]:
    entries: Any = client.xrange(get_settings().stream(STREAM))
    return [orjson.loads(fields[b"payload"]) for _, fields in entries]


def test_a_signed_batch_is_accepted_and_put_on_the_receipts_stream_as_sent(
    api_client: TestClient, redis_client: redis.Redis, secret: str
) -> None:
    batch = [
        RECEIPT,
        {**RECEIPT, "reference": 42, "status": "failed", "reason": "unreachable"},
        {**RECEIPT, "reference": 43, "status": "failed", "reason": "mailbox full", "permanent": True},
    ]

    answer = post(api_client, secret, batch)

    assert (answer.status_code, answer.json()) == (202, {"accepted": 3, "duplicate": False})
    assert stream_payloads(redis_client) == [batch]


def test_a_single_receipt_is_accepted_too(api_client: TestClient, redis_client: redis.Redis, secret: str) -> None:
    answer = post(api_client, secret, RECEIPT)

    assert (answer.status_code, answer.json()["accepted"]) == (202, 1)
    assert stream_payloads(redis_client) == [RECEIPT]


def test_a_replayed_webhook_id_is_answered_2xx_and_adds_nothing(
    api_client: TestClient, redis_client: redis.Redis, secret: str
) -> None:
    first = post(api_client, secret, [RECEIPT], webhook_id="msg_same")
    again = post(api_client, secret, [RECEIPT], webhook_id="msg_same", at=time.time() + 3)

    assert first.json()["duplicate"] is False
    assert (again.status_code, again.json()) == (202, {"accepted": 1, "duplicate": True})
    assert len(stream_payloads(redis_client)) == 1


def test_a_forged_signature_is_refused(api_client: TestClient, redis_client: redis.Redis, secret: str) -> None:
    answer = post(api_client, generate_secret(), [RECEIPT])

    assert answer.status_code == 401
    assert answer.json() == {
        "error": "unauthorized",
        "detail": {"reason": "bad_signature", "message": "no signature matches"},
    }
    assert stream_payloads(redis_client) == []


def test_a_body_changed_after_signing_is_refused(
    api_client: TestClient, redis_client: redis.Redis, secret: str
) -> None:
    signed = orjson.dumps([RECEIPT])
    headers = sign(secret, "msg_1", int(time.time()), signed)
    tampered = signed.replace(b"delivered", b"failed")

    answer = api_client.post("/v1/receipts", content=tampered, headers=headers)

    assert answer.status_code == 401
    assert stream_payloads(redis_client) == []


@pytest.mark.parametrize(("offset", "reason"), [(-400, "stale_timestamp"), (400, "future_timestamp")])
def test_a_timestamp_outside_the_tolerance_is_refused(
    api_client: TestClient, redis_client: redis.Redis, secret: str, offset: int, reason: str
) -> None:
    answer = post(api_client, secret, [RECEIPT], at=time.time() + offset)

    assert (answer.status_code, answer.json()["detail"]["reason"]) == (401, reason)
    assert stream_payloads(redis_client) == []


def test_unsigned_callbacks_are_refused(api_client: TestClient, secret: str) -> None:
    answer = api_client.post("/v1/receipts", json=[RECEIPT])

    assert (answer.status_code, answer.json()["detail"]["reason"]) == (401, "missing_header")


def test_a_signed_body_that_is_not_receipts_is_refused_with_what_is_wrong(
    api_client: TestClient, redis_client: redis.Redis, secret: str
) -> None:
    answer = post(
        api_client,
        secret,
        [{**RECEIPT, "status": "bounced"}, {**RECEIPT, "occurred_at": "yesterday"}, {**RECEIPT, "permanent": "yes"}],
    )
    garbled = post(api_client, secret, None, body=b"{not json", webhook_id="msg_2")

    assert answer.status_code == 422
    assert {problem["loc"] for problem in answer.json()["detail"]} >= {
        "list[ReceiptIn].0.status",
        "list[ReceiptIn].1.occurred_at",
        "list[ReceiptIn].2.permanent",
    }
    assert garbled.status_code == 400
    assert stream_payloads(redis_client) == []


def test_without_a_configured_secret_no_receipt_is_taken(api_client: TestClient, redis_client: redis.Redis) -> None:
    signed = sign(generate_secret(), "msg_1", int(time.time()), b"[]")

    answer = api_client.post("/v1/receipts", content=b"[]", headers=signed)

    assert (answer.status_code, answer.json()["detail"]["reason"]) == (401, "not_configured")
    assert stream_payloads(redis_client) == []
