"""Status lookups: the vendor answers what became of a message, by its id, whether or not its receipt arrived."""

from __future__ import annotations

from typing import Any

import httpx

from api.vendor.config import Faults
from tests.api.vendor.loopback import StartVendor, message, send_batches, stats, wait_until


def statuses(vendor: httpx.Client, ids: list[str]) -> list[dict[str, Any]]:
    answer = vendor.post("/v1/messages/status", json={"ids": ids})
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["messages"]
    return found


def test_a_message_whose_receipts_are_dropped_is_still_answered_with_its_outcome(start_vendor: StartVendor) -> None:
    vendor = start_vendor(Faults(receipts_enabled=False, failure_rate=0, receipt_delay_ms=50))
    sent = send_batches(vendor, [message(1), {**message(2), "to": "12345"}])
    ids = [result["vendor_message_id"] for result in sent]

    final = wait_until(
        lambda: {s["status"] for s in statuses(vendor, ids)} != {"sent"}, lambda: statuses(vendor, ids), timeout=10
    )

    assert [(s["vendor_message_id"], s["reference"], s["status"], s["reason"]) for s in final] == [
        (ids[0], "log-1", "delivered", None),
        (ids[1], "log-2", "failed", "invalid number"),
    ]
    assert final[1]["permanent"] is True
    assert all(s["occurred_at"] for s in final)
    assert stats(vendor)["receipts_posted"] == 0


def test_a_message_is_sent_until_its_outcome_falls_due(start_vendor: StartVendor) -> None:
    vendor = start_vendor(Faults(receipt_delay_ms=60_000))
    vendor_id = send_batches(vendor, [message(1)])[0]["vendor_message_id"]

    answer = vendor.get(f"/v1/messages/{vendor_id}")

    assert answer.status_code == 200
    assert {k: answer.json()[k] for k in ("status", "reason", "reference")} == {
        "status": "sent",
        "reason": None,
        "reference": "log-1",
    }
    assert answer.json()["occurred_at"]


def test_ids_the_vendor_never_gave_are_unknown_in_a_batch_and_404_alone(start_vendor: StartVendor) -> None:
    vendor = start_vendor()
    vendor_id = send_batches(vendor, [message(1)])[0]["vendor_message_id"]

    found = statuses(vendor, ["vm_nope", vendor_id])
    alone = vendor.get("/v1/messages/vm_nope")

    known = [(s["vendor_message_id"], s["status"] != "unknown") for s in found]
    assert known == [("vm_nope", False), (vendor_id, True)]
    assert (alone.status_code, alone.json()["error"]) == (404, "unknown_message")
    assert stats(vendor)["status_lookups"] == 3


def test_a_lookup_of_more_than_a_thousand_ids_is_refused(start_vendor: StartVendor) -> None:
    vendor = start_vendor()

    assert vendor.post("/v1/messages/status", json={"ids": [f"vm_{n}" for n in range(1000)]}).status_code == 200
    too_many = vendor.post("/v1/messages/status", json={"ids": [f"vm_{n}" for n in range(1001)]})
    assert (too_many.status_code, too_many.json()["error"]) == (422, "invalid_request")


def test_status_lookups_need_the_api_key_like_sends(start_vendor: StartVendor) -> None:
    vendor = start_vendor(api_key="vendor-key")

    assert vendor.post("/v1/messages/status", json={"ids": ["vm_1"]}).status_code == 401
    assert vendor.get("/v1/messages/vm_1").status_code == 401
    signed = {"Authorization": "Bearer vendor-key"}
    assert vendor.post("/v1/messages/status", json={"ids": ["vm_1"]}, headers=signed).status_code == 200


def test_a_message_is_forgotten_with_its_idempotency_key(start_vendor: StartVendor) -> None:
    vendor = start_vendor(idempotency_ttl_s=0.2)
    vendor_id = send_batches(vendor, [message(1)])[0]["vendor_message_id"]
    later = iter(range(2, 1_000))

    def forgotten() -> bool:
        send_batches(vendor, [message(next(later))])  # keys are forgotten as new sends come in
        return statuses(vendor, [vendor_id])[0]["status"] == "unknown"

    wait_until(forgotten, lambda: statuses(vendor, [vendor_id]), timeout=10)
