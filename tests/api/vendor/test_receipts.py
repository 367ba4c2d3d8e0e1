"""Receipts the simulator posts back: signed, complete, split about 90/10, and faulty on request."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import datetime

import httpx

from api.vendor.config import Faults
from engine.channels import CHANNELS
from tests.api.vendor.loopback import ReceiptInbox, StartVendor, message, send_batches, stats, wait_until

RECEIPT_FIELDS = {"vendor_message_id", "reference", "status", "reason", "permanent", "occurred_at"}


def test_every_message_gets_one_signed_final_receipt_split_about_ninety_ten(
    vendor: httpx.Client, inbox: ReceiptInbox
) -> None:
    messages = [message(n, channel="sms" if n % 2 else "email") for n in range(2000)]
    results = send_batches(vendor, messages)

    receipts = inbox.wait_for(2000)
    wait_until(lambda: stats(vendor)["receipts_posted"] == 2000, lambda: stats(vendor))

    assert inbox.refused == 0
    assert all(set(r) == RECEIPT_FIELDS for r in receipts)
    by_id = {r["vendor_message_id"]: r for r in receipts}
    assert len(by_id) == len(receipts) == 2000
    assert {by_id[res["vendor_message_id"]]["reference"] for res in results} == {m["reference"] for m in messages}
    statuses = Counter(r["status"] for r in receipts)
    assert set(statuses) == {"delivered", "failed"}
    assert 140 <= statuses["failed"] <= 260
    all_reasons = set(CHANNELS["sms"].failure_reasons) | set(CHANNELS["email"].failure_reasons)
    assert all(r["reason"] in all_reasons for r in receipts if r["status"] == "failed")
    assert all(r["reason"] is None and r["permanent"] is None for r in receipts if r["status"] == "delivered")
    assert all(datetime.fromisoformat(r["occurred_at"]).tzinfo is not None for r in receipts)
    assert max(len(c.receipts) for c in inbox.callbacks) <= 500
    assert len({c.webhook_id for c in inbox.callbacks}) == len(inbox.callbacks)
    counters = stats(vendor)
    assert counters["outcomes"] == {"delivered": statuses["delivered"], "failed": statuses["failed"]}
    assert counters["receipts_posted_by_status"] == dict(statuses)
    assert counters["receipts_pending"] == 0


def test_a_failure_rate_sets_the_split(start_vendor: StartVendor, inbox: ReceiptInbox) -> None:
    vendor = start_vendor(Faults(failure_rate=0.5, receipt_delay_ms=0))

    send_batches(vendor, [message(n) for n in range(1000)])

    statuses = Counter(r["status"] for r in inbox.wait_for(1000))
    assert 420 <= statuses["failed"] <= 580


def test_failure_reasons_belong_to_the_channel(start_vendor: StartVendor, inbox: ReceiptInbox) -> None:
    vendor = start_vendor(Faults(failure_rate=1, receipt_delay_ms=0))

    send_batches(vendor, [message(n, channel="email") for n in range(100)])

    reasons = {r["reason"] for r in inbox.wait_for(100)}
    assert reasons <= set(CHANNELS["email"].failure_reasons)
    assert len(reasons) > 1


def test_a_failed_receipt_says_whether_its_failure_is_a_hard_bounce(
    start_vendor: StartVendor, inbox: ReceiptInbox
) -> None:
    vendor = start_vendor(Faults(failure_rate=1, receipt_delay_ms=0))

    send_batches(vendor, [message(n, channel="sms" if n % 2 else "email") for n in range(200)])

    flags = {(r["reason"], r["permanent"]) for r in inbox.wait_for(200)}
    assert flags == {
        ("unsubscribed", True), ("invalid number", True), ("invalid address", True), ("blocked as spam", True),
        ("unreachable", False), ("carrier rejected", False), ("mailbox full", False),
    }  # fmt: skip


def test_a_malformed_address_always_fails_with_its_reason(start_vendor: StartVendor, inbox: ReceiptInbox) -> None:
    vendor = start_vendor(Faults(failure_rate=0, receipt_delay_ms=0))
    messages = [
        {**message(1), "to": "12345"},
        {**message(2), "to": "+91 99 0000"},
        {**message(3, channel="email"), "to": "nobody"},
        {**message(4, channel="email"), "to": "someone@localhost"},
        message(5),
        message(6, channel="email"),
    ]

    send_batches(vendor, messages)

    fates = {r["reference"]: (r["status"], r["reason"]) for r in inbox.wait_for(6)}
    assert fates == {
        "log-1": ("failed", "invalid number"),
        "log-2": ("failed", "invalid number"),
        "log-3": ("failed", "invalid address"),
        "log-4": ("failed", "invalid address"),
        "log-5": ("delivered", None),
        "log-6": ("delivered", None),
    }


def test_sent_receipts_come_before_the_final_ones(start_vendor: StartVendor, inbox: ReceiptInbox) -> None:
    vendor = start_vendor(Faults(sent_receipts=True, receipt_delay_ms=100))

    send_batches(vendor, [message(n) for n in range(50)])

    receipts = inbox.wait_for(100)
    order: defaultdict[str, list[str]] = defaultdict(list)
    for receipt in receipts:
        order[receipt["vendor_message_id"]].append(receipt["status"])
    assert len(order) == 50
    assert all(statuses[0] == "sent" and statuses[1] in {"delivered", "failed"} for statuses in order.values())


def test_out_of_order_receipts_bring_the_final_status_before_sent(
    start_vendor: StartVendor, inbox: ReceiptInbox
) -> None:
    vendor = start_vendor(Faults(sent_receipts=True, out_of_order_rate=1, receipt_delay_ms=100))

    send_batches(vendor, [message(n) for n in range(50)])

    order: defaultdict[str, list[str]] = defaultdict(list)
    for receipt in inbox.wait_for(100):
        order[receipt["vendor_message_id"]].append(receipt["status"])
    assert all(statuses[1] == "sent" and statuses[0] != "sent" for statuses in order.values())


def test_out_of_order_receipts_are_shuffled_within_a_callback(start_vendor: StartVendor, inbox: ReceiptInbox) -> None:
    vendor = start_vendor(Faults(out_of_order_rate=0.01, receipt_delay_ms=0))

    results = send_batches(vendor, [message(n) for n in range(200)], size=200)

    inbox.wait_for(200)
    sent_order = [r["vendor_message_id"] for r in results]
    assert len(inbox.callbacks) == 1
    assert [r["vendor_message_id"] for r in inbox.callbacks[0].receipts] != sent_order


def test_duplicated_receipts_arrive_again_in_another_callback(start_vendor: StartVendor, inbox: ReceiptInbox) -> None:
    vendor = start_vendor(Faults(duplicate_rate=0.3, receipt_delay_ms=50))

    send_batches(vendor, [message(n) for n in range(500)])
    wait_until(lambda: stats(vendor)["receipts_pending"] == 0, lambda: stats(vendor))

    receipts = inbox.wait_for(stats(vendor)["receipts_posted"])
    copies = Counter(r["vendor_message_id"] for r in receipts)
    assert len(copies) == 500
    assert set(copies.values()) == {1, 2}
    assert 100 <= sum(1 for n in copies.values() if n == 2) <= 200
    callback_of = defaultdict(set)
    for callback in inbox.callbacks:
        for receipt in callback.receipts:
            callback_of[receipt["vendor_message_id"]].add(callback.webhook_id)
    assert all(len(callback_of[vendor_id]) == 2 for vendor_id, n in copies.items() if n == 2)


def test_late_receipts_are_held_back(start_vendor: StartVendor, inbox: ReceiptInbox) -> None:
    vendor = start_vendor(Faults(late_rate=1, late_ms=1000, receipt_delay_ms=0))

    started = time.monotonic()
    send_batches(vendor, [message(n) for n in range(10)])
    time.sleep(0.6)

    assert inbox.receipts() == []
    inbox.wait_for(10)
    assert time.monotonic() - started >= 1.0


def test_a_batch_size_of_one_posts_single_json_objects(start_vendor: StartVendor, inbox: ReceiptInbox) -> None:
    vendor = start_vendor(Faults(receipt_batch_size=1, receipt_delay_ms=0))

    send_batches(vendor, [message(n) for n in range(20)])

    inbox.wait_for(20)
    assert len(inbox.callbacks) == 20
    assert all(c.single and len(c.receipts) == 1 for c in inbox.callbacks)


def test_receipts_are_cut_into_callbacks_of_the_batch_size(start_vendor: StartVendor, inbox: ReceiptInbox) -> None:
    vendor = start_vendor(Faults(receipt_batch_size=7, receipt_delay_ms=0))

    send_batches(vendor, [message(n) for n in range(50)], size=50)

    inbox.wait_for(50)
    assert sorted(len(c.receipts) for c in inbox.callbacks) == [1, 7, 7, 7, 7, 7, 7, 7]
    assert not any(c.single for c in inbox.callbacks)


def test_receipts_switched_off_are_never_posted(start_vendor: StartVendor, inbox: ReceiptInbox) -> None:
    vendor = start_vendor(Faults(receipts_enabled=False, receipt_delay_ms=0))

    send_batches(vendor, [message(n) for n in range(20)])
    time.sleep(0.3)

    assert inbox.callbacks == []
    assert stats(vendor)["receipts_pending"] == 0


def test_failed_callbacks_are_retried_under_the_same_webhook_id(vendor: httpx.Client, inbox: ReceiptInbox) -> None:
    inbox.fail_next = 3

    send_batches(vendor, [message(n) for n in range(10)])

    receipts = inbox.wait_for(10)
    assert len(receipts) == 10
    assert inbox.failed_webhook_ids == [inbox.callbacks[0].webhook_id] * 3
    counters = stats(vendor)
    assert (counters["callback_failures"], counters["callbacks_posted"], counters["receipts_dropped"]) == (
        3,
        1,
        0,
    )


def test_a_rate_limited_callback_is_retried(vendor: httpx.Client, inbox: ReceiptInbox) -> None:
    inbox.fail_next, inbox.fail_status = 1, 429

    send_batches(vendor, [message(n) for n in range(10)])

    assert len(inbox.wait_for(10)) == 10


def test_a_refused_callback_is_not_retried(vendor: httpx.Client, inbox: ReceiptInbox) -> None:
    inbox.fail_next, inbox.fail_status = 1, 400

    send_batches(vendor, [message(n) for n in range(10)])
    wait_until(lambda: stats(vendor)["receipts_dropped"] == 10, lambda: stats(vendor))

    time.sleep(0.3)
    assert inbox.callbacks == []
    assert len(inbox.failed_webhook_ids) == 1


def test_an_unreachable_callback_is_retried_then_given_up(start_vendor: StartVendor) -> None:
    vendor = start_vendor(callback_url="http://127.0.0.1:9/v1/receipts", receipt_max_attempts=3)

    send_batches(vendor, [message(n) for n in range(10)])

    counters = wait_until(lambda: stats(vendor)["receipts_dropped"] == 10, lambda: stats(vendor))
    assert counters["callback_failures"] == 3
    assert counters["receipts_posted"] == 0


def test_a_redelivered_callback_repeats_its_webhook_id(start_vendor: StartVendor, inbox: ReceiptInbox) -> None:
    vendor = start_vendor(Faults(redelivery_rate=1, receipt_delay_ms=50))

    send_batches(vendor, [message(n) for n in range(5)])

    wait_until(lambda: len(inbox.callbacks) >= 2, lambda: inbox.callbacks)
    first, again = inbox.callbacks[:2]
    assert first.webhook_id == again.webhook_id
    assert first.receipts == again.receipts


def test_the_same_seed_gives_the_same_ids_and_fates(start_vendor: StartVendor, inbox: ReceiptInbox) -> None:
    first_run, second_run = (start_vendor(Faults(receipt_delay_ms=0), seed=42) for _ in range(2))

    send_batches(first_run, [message(n) for n in range(300)])
    inbox.wait_for(300)
    send_batches(second_run, [message(n) for n in range(300)])

    receipts = inbox.wait_for(600)
    fates = [
        sorted((r["vendor_message_id"], r["reference"], r["status"], r["reason"]) for r in run)
        for run in (receipts[:300], receipts[300:])
    ]
    assert fates[0] == fates[1]
    assert {status for _, _, status, _ in fates[0]} == {"delivered", "failed"}
