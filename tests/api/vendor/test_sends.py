"""Sending through the simulator over real HTTP: idempotency, batches, refusals and request faults."""

from __future__ import annotations

import time

import httpx
import pytest

from api.vendor.config import Faults
from tests.api.vendor.loopback import StartVendor, message, send_batches, stats

NO_RECEIPTS = Faults(receipts_enabled=False)


def test_a_retried_single_send_gets_the_same_vendor_id_and_is_sent_once(vendor: httpx.Client) -> None:
    body = {k: v for k, v in message(1).items() if k != "idempotency_key"}

    first = vendor.post("/v1/messages", json=body, headers={"Idempotency-Key": "order-1"})
    retry = vendor.post("/v1/messages", json=body, headers={"Idempotency-Key": "order-1"})

    assert first.status_code == retry.status_code == 202
    assert first.json()["duplicate"] is False
    assert retry.json() == {**first.json(), "duplicate": True}
    assert first.json()["vendor_message_id"].startswith("vm_")
    assert stats(vendor)["sent"] == 1
    assert stats(vendor)["duplicates_suppressed"] == 1


def test_the_key_may_be_in_the_body_but_must_agree_with_the_header(vendor: httpx.Client) -> None:
    in_body = vendor.post("/v1/messages", json=message(1))
    conflicting = vendor.post("/v1/messages", json=message(2), headers={"Idempotency-Key": "other"})
    missing = vendor.post("/v1/messages", json={k: v for k, v in message(3).items() if k != "idempotency_key"})

    assert in_body.status_code == 202
    assert conflicting.status_code == 422
    assert conflicting.json()["error"] == "conflicting_idempotency_keys"
    assert missing.status_code == 422
    assert missing.json()["error"] == "idempotency_key_required"
    assert stats(vendor)["sent"] == 1


def test_a_batch_answers_each_message_in_order_and_sends_each_key_once(vendor: httpx.Client) -> None:
    earlier = vendor.post("/v1/messages", json=message(2)).json()
    batch = [message(1), message(2), message(3, channel="email"), message(1)]

    response = vendor.post("/v1/messages/batch", json={"messages": batch})

    assert response.status_code == 202
    body = response.json()
    assert [r["idempotency_key"] for r in body["messages"]] == ["k1", "k2", "k3", "k1"]
    assert [r["duplicate"] for r in body["messages"]] == [False, True, False, True]
    assert body["messages"][1]["vendor_message_id"] == earlier["vendor_message_id"]
    assert body["messages"][3]["vendor_message_id"] == body["messages"][0]["vendor_message_id"]
    assert len({r["vendor_message_id"] for r in body["messages"]}) == 3
    assert (body["accepted"], body["duplicates"]) == (2, 2)
    assert stats(vendor)["sent"] == 3


def test_a_batch_of_a_thousand_is_accepted_and_a_larger_one_refused(start_vendor: StartVendor) -> None:
    vendor = start_vendor(NO_RECEIPTS)

    accepted = send_batches(vendor, [message(n) for n in range(1000)], size=1000)
    too_big = vendor.post("/v1/messages/batch", json={"messages": [message(n) for n in range(1001)]})

    assert len({r["vendor_message_id"] for r in accepted}) == 1000
    assert too_big.status_code == 413
    assert too_big.json()["error"] == "batch_too_large"
    assert stats(vendor)["sent"] == 1000


def test_batch_messages_without_a_key_are_named_and_nothing_is_sent(vendor: httpx.Client) -> None:
    unkeyed = {k: v for k, v in message(2).items() if k != "idempotency_key"}

    response = vendor.post("/v1/messages/batch", json={"messages": [message(1), unkeyed]})

    assert response.status_code == 422
    assert response.json() == {"error": "idempotency_key_required", "detail": {"messages_without_key": [1]}}
    assert stats(vendor)["sent"] == 0


@pytest.mark.parametrize(
    ("change", "bad_field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"to": ""}, "to"),
        ({"body": ""}, "body"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_an_invalid_message_is_refused_naming_the_field(
    vendor: httpx.Client, change: dict[str, str], bad_field: str
) -> None:
    response = vendor.post("/v1/messages/batch", json={"messages": [{**message(1), **change}]})

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert any(bad_field in error["loc"] for error in response.json()["detail"])


def test_an_api_key_when_configured_is_required_on_v1_but_not_on_health(start_vendor: StartVendor) -> None:
    vendor = start_vendor(api_key="vendor-key")

    without = vendor.post("/v1/messages", json=message(1))
    wrong = vendor.post("/v1/messages", json=message(1), headers={"Authorization": "Bearer nope"})
    right = vendor.post("/v1/messages", json=message(1), headers={"Authorization": "Bearer vendor-key"})

    assert (without.status_code, wrong.status_code, right.status_code) == (401, 401, 202)
    assert without.json()["error"] == "unauthorized"
    assert vendor.get("/health").json() == {"status": "ok"}


def test_a_5xx_rate_refuses_that_share_of_requests_and_sends_none_of_them(start_vendor: StartVendor) -> None:
    vendor = start_vendor(Faults(error_rate_5xx=0.3, receipts_enabled=False))

    statuses = [vendor.post("/v1/messages", json=message(n)).status_code for n in range(300)]

    assert set(statuses) == {202, 503}
    assert 60 <= statuses.count(503) <= 120
    assert stats(vendor)["sent"] == statuses.count(202)
    assert stats(vendor)["responses"] == {"accepted": statuses.count(202), "5xx": statuses.count(503)}


def test_a_429_carries_the_configured_retry_after(start_vendor: StartVendor) -> None:
    vendor = start_vendor(Faults(error_rate_429=1, retry_after_s=7))

    response = vendor.post("/v1/messages/batch", json={"messages": [message(1)]})

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json()["error"] == "rate_limited"
    assert stats(vendor)["sent"] == 0


def test_a_timed_out_send_was_sent_so_its_retry_is_suppressed(start_vendor: StartVendor) -> None:
    vendor = start_vendor(NO_RECEIPTS)

    vendor.patch("/v1/admin/faults", json={"timeout_rate": 1, "timeout_hang_ms": 3000})
    with pytest.raises(httpx.ReadTimeout):
        vendor.post("/v1/messages", json=message(1), timeout=0.3)
    vendor.patch("/v1/admin/faults", json={"timeout_rate": 0})
    retry = vendor.post("/v1/messages", json=message(1))

    assert retry.status_code == 202
    assert retry.json()["duplicate"] is True
    assert stats(vendor)["sent"] == 1
    assert stats(vendor)["responses"] == {"timeout": 1, "accepted": 1}


def test_latency_delays_every_answer(start_vendor: StartVendor) -> None:
    vendor = start_vendor(Faults(latency_ms=300, receipts_enabled=False))

    started = time.monotonic()
    response = vendor.post("/v1/messages", json=message(1))

    assert response.status_code == 202
    assert time.monotonic() - started >= 0.3


def test_a_client_that_retries_through_mixed_faults_gets_every_message_sent_exactly_once(
    start_vendor: StartVendor,
) -> None:
    faults = Faults(error_rate_5xx=0.1, error_rate_429=0.1, retry_after_s=0, timeout_rate=0.1, timeout_hang_ms=400)
    vendor = start_vendor(faults)
    pending = [message(n) for n in range(400)]
    vendor_ids: dict[str, str] = {}

    for _ in range(30):
        if not pending:
            break
        retry = []
        for start in range(0, len(pending), 20):
            batch = pending[start : start + 20]
            try:
                response = vendor.post("/v1/messages/batch", json={"messages": batch}, timeout=0.2)
            except httpx.ReadTimeout:
                retry.extend(batch)
                continue
            if response.status_code != 202:
                retry.extend(batch)
                continue
            for result in response.json()["messages"]:
                vendor_ids.setdefault(result["idempotency_key"], result["vendor_message_id"])
                assert vendor_ids[result["idempotency_key"]] == result["vendor_message_id"]
        pending = retry

    counters = stats(vendor)
    assert not pending
    assert counters["sent"] == 400
    assert counters["responses"]["timeout"] > 0
    assert counters["duplicates_suppressed"] > 0
    assert len(set(vendor_ids.values())) == 400
