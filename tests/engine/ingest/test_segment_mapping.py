"""Mapping Segment messages onto records (`to_batch`): what a refused message leaves behind, client clocks, and the
batch's JSON the screen for what Postgres cannot store wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from engine.ingest.segment import to_batch, whole_batch

RECEIVED = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


def test_an_identify_whose_event_postgres_would_refuse_leaves_no_customer_behind() -> None:
    messages = [
        {"type": "identify", "userId": "u1", "traits": {"plan": "pro"}},
        {"type": "identify", "userId": "u2", "traits": {"plan": "free"}, "context": {"ip\u0000": "1"}},
        {"type": "track", "userId": "u3", "event": "Order Completed", "properties": {"order_id": "o1", "total": 5}},
    ]
    batch, problems, encoded = to_batch(messages, RECEIVED)

    assert [(p.index, p.field) for p in problems] == [(1, "context.ip\\u0000")]
    assert encoded is None  # the screen wrote a batch holding the refused message: the stream entry is written anew
    assert [c["external_id"] for c in batch["customers"]] == ["u1"]
    assert [o["external_id"] for o in batch["orders"]] == ["o1"]
    assert [e["customer_external_id"] for e in batch["events"]] == ["u1", "u3"]


def test_a_validated_batch_maps_like_messages_validated_one_by_one() -> None:
    messages = [
        {"type": "track", "userId": "u1", "event": "E", "messageId": "m1", "timestamp": "2030-06-01T11:00:00"},
        {"type": "page", "anonymousId": "a1", "name": "Home", "messageId": "m2",
         "timestamp": "2030-06-01T11:30:00Z", "sentAt": "2030-06-01T11:59:00Z"},
        {"type": "track", "userId": "u1"},
    ]  # fmt: skip
    body = orjson.dumps({"batch": messages})
    validated = whole_batch(body)
    assert validated is not None

    whole = to_batch(validated["batch"], RECEIVED, validated=True)
    one_by_one = to_batch([dict(m) for m in validated["batch"]], RECEIVED)

    assert whole == one_by_one
    batch, problems, encoded = whole
    assert encoded == orjson.dumps(batch)  # the screen's text is the stream entry's
    assert [(p.index, p.field) for p in problems] == [(2, "event")]
    assert [e["occurred_at"] for e in batch["events"]] == [
        datetime(2030, 6, 1, 11, 0, tzinfo=UTC),  # no zone: UTC; no sentAt: the time as sent
        datetime(2030, 6, 1, 11, 30, tzinfo=UTC) + timedelta(minutes=1),  # shifted by the client's clock skew
    ]
