"""Suppression that holds: a bounce, an opt-out or a STOP stops every later send, at launch and just before sending,
and each skipped message says why."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import polars as pl
import redis
from sqlalchemy import Engine, event, text

from engine import streams
from engine.campaigns.queue import Message
from engine.campaigns.receipts import STREAM, drain_receipts
from engine.campaigns.sender import run_sender
from engine.consent import preferences, replies, suppression
from engine.consent.bounces import suppression_reason
from engine.consent.opt_out import with_opt_out
from tests.engine.campaigns.conftest import Vendor
from tests.engine.campaigns.helpers import NOON, delivery_settings, features, launch, log_rows

LATER = NOON + timedelta(days=1)


def add_customers(db: Engine, count: int) -> None:
    """Customers 1..count in Postgres (with the phone numbers and e-mails of `features`), consenting to both."""
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO customers (id, external_id, phone, email, sms_consent, email_consent) "
                "SELECT n, 'c' || n, '+9199' || lpad(n::text, 8, '0'), 'customer' || n || '@example.com', true, true "
                "FROM generate_series(1, :count) AS n"
            ),
            {"count": count},
        )


def fates(db: Engine, campaign_id: int) -> dict[int, tuple[str, str | None]]:
    return {row["customer_id"]: (row["status"], row["reason"]) for row in log_rows(db, campaign_id)}


def queued(rows: list[dict[str, Any]]) -> list[Message]:
    """The queued messages of log rows, as the delivery stream carries them."""
    fields = ("id", "idempotency_key", "address", "message", "subject", "customer_id")
    return [tuple(row[name] for name in fields) for row in rows if row["status"] == "queued"]


def failed(log_id: int, reason: str, permanent: bool | None = None) -> dict[str, Any]:
    return {"vendor_message_id": f"vm_{log_id}", "reference": log_id, "status": "failed", "reason": reason,
            "permanent": permanent, "occurred_at": "2026-11-25T12:00:05Z"}  # fmt: skip


def test_a_hard_bounce_or_an_unsubscribed_receipt_stops_every_later_send(
    database: Engine, redis_client: redis.Redis
) -> None:
    add_customers(database, 4)
    config = delivery_settings()
    first = launch(database, redis_client, config, features(4))
    ids = {row["customer_id"]: row["id"] for row in log_rows(database, first.campaign_id)}
    streams.publish(redis_client, config.stream(STREAM), [
        failed(ids[1], "invalid number"), failed(ids[2], "unsubscribed"),
        failed(ids[3], "rejected (error 5.1.1)", permanent=True), failed(ids[4], "unreachable"),
    ])  # fmt: skip

    report = drain_receipts(database, redis_client, config, consumer="tests")
    later = launch(database, redis_client, config, features(4), now=LATER)

    assert report.suppressed == 3
    assert fates(database, later.campaign_id) == {
        1: ("skipped", "suppressed: invalid address"),
        2: ("skipped", "suppressed: unsubscribed"),
        3: ("skipped", "suppressed: hard bounce"),
        4: ("queued", None),  # a soft failure: the next message may get through
    }
    with database.connect() as conn:
        consent: dict[int, bool] = dict(conn.execute(text("SELECT id, sms_consent FROM customers ORDER BY id")).all())
        history = preferences.history(conn, 2)
    assert consent == {1: True, 2: False, 3: True, 4: True}
    assert [(h.channel, h.subscribed, h.source, h.detail["campaign_id"]) for h in history] == [
        ("sms", False, "receipt", first.campaign_id)
    ]


def test_receipts_applied_twice_suppress_once_and_keep_one_history_entry(
    database: Engine, redis_client: redis.Redis
) -> None:
    add_customers(database, 1)
    config = delivery_settings()
    first = launch(database, redis_client, config, features(1))
    log_id = log_rows(database, first.campaign_id)[0]["id"]
    for _ in range(2):
        streams.publish(redis_client, config.stream(STREAM), failed(log_id, "Unsubscribed by recipient"))
        drain_receipts(database, redis_client, config, consumer="tests")

    with database.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM suppressions")).scalar_one() == 1
        assert len(preferences.history(conn, 1)) == 1


def test_a_stop_reply_stops_every_later_sms_and_start_lifts_it(database: Engine, redis_client: redis.Redis) -> None:
    add_customers(database, 2)
    config = delivery_settings()
    with database.begin() as conn:
        assert replies.apply_reply(conn, "+91 9900 000001", " Stop ", {"message_sid": "SM1"}) == "stop"
    stopped = launch(database, redis_client, config, features(2))

    with database.begin() as conn:
        assert replies.apply_reply(conn, "+919900000001", "START", {}) == "start"
        assert replies.apply_reply(conn, "+919900000001", "stop by tomorrow?", {}) is None
    started = launch(database, redis_client, config, features(2), now=LATER)

    assert fates(database, stopped.campaign_id) == {1: ("skipped", "suppressed: replied STOP"), 2: ("queued", None)}
    assert fates(database, started.campaign_id) == {1: ("queued", None), 2: ("queued", None)}
    with database.connect() as conn:
        history = [(h.subscribed, h.source) for h in reversed(preferences.history(conn, 1))]
    assert history == [(False, "sms reply"), (True, "sms reply")]


def test_an_address_suppressed_after_launch_is_skipped_by_the_sender_with_its_reason(
    database: Engine, redis_client: redis.Redis
) -> None:
    config = delivery_settings()
    report = launch(database, redis_client, config, features(3, email=["A@Example.com", "b@example.com", None]),
                    channel="email", subject="Hello")  # fmt: skip
    rows = log_rows(database, report.campaign_id)
    messages = queued(rows)
    with database.begin() as conn:
        suppression.suppress(conn, "email", " a@example.COM ", "complaint", "tests")

    sendable = suppression.filter_sendable(database, "email", messages)

    assert [message[2] for message in sendable] == ["b@example.com"]
    assert fates(database, report.campaign_id) == {
        1: ("skipped", "suppressed: spam complaint"),
        2: ("queued", None),
        3: ("skipped", "no e-mail address"),
    }


def test_a_stop_after_launch_keeps_the_sender_from_posting_that_message(
    database: Engine, redis_client: redis.Redis, start_vendor: Vendor
) -> None:
    add_customers(database, 3)
    url, vendor = start_vendor()
    config = delivery_settings(url)
    report = launch(database, redis_client, config, features(3))
    with database.begin() as conn:
        replies.apply_reply(conn, "+919900000002", "STOP", {})

    sent = asyncio.run(run_sender(database, redis_client, config, consumer="tests", until_idle=True))

    assert (sent.sent, sent.skipped) == (2, 1)
    assert vendor.get("/v1/stats").json()["sent"] == 2
    assert fates(database, report.campaign_id)[2] == ("skipped", "suppressed: replied STOP")


def test_customers_who_left_a_campaigns_topic_are_skipped_at_launch_and_before_sending(
    database: Engine, redis_client: redis.Redis
) -> None:
    add_customers(database, 3)
    config = delivery_settings()
    with database.begin() as conn:
        preferences.save_topic(conn, preferences.Topic("offers", "Offers", ""))
        preferences.set_topic(conn, 1, "offers", False, "tests")
    report = launch(database, redis_client, config, features(3), topic="offers")
    rows = log_rows(database, report.campaign_id)
    with database.begin() as conn:
        preferences.set_topic(conn, 2, "offers", False, "tests")
    messages = queued(rows)

    sendable = suppression.filter_sendable(database, "sms", messages)

    assert [message[0] for message in sendable] == [rows[2]["id"]]
    assert fates(database, report.campaign_id) == {
        1: ("skipped", "left the topic 'offers'"),
        2: ("skipped", "left the topic 'offers'"),
        3: ("queued", None),
    }


def test_who_left_a_topic_is_read_from_an_index_not_from_every_opt_out(database: Engine) -> None:
    add_customers(database, 20_000)
    with database.begin() as conn:
        for key in ("offers", "news"):
            preferences.save_topic(conn, preferences.Topic(key, key.title(), ""))
        conn.execute(
            text("INSERT INTO topic_optouts (customer_id, topic) SELECT n, 'news' FROM generate_series(1, 20000) n")
        )
        conn.execute(
            text("INSERT INTO topic_optouts (customer_id, topic) SELECT n, 'offers' FROM generate_series(1, 5) n")
        )
        conn.execute(text("ANALYZE topic_optouts"))
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        statements.append((statement, parameters))

    with database.connect() as conn:
        event.listen(conn, "before_cursor_execute", record)
        assert suppression.topic_version(conn, "offers")[0] == 5  # asked at every audience count of the campaign
        assert sorted(suppression.topic_leavers(conn, "offers")) == [1, 2, 3, 4, 5]
        event.remove(conn, "before_cursor_execute", record)
        plans = ["\n".join(conn.exec_driver_sql(f"EXPLAIN {sql}", params).scalars()) for sql, params in statements]

    assert len(plans) == 2
    for plan in plans:
        assert "Seq Scan" not in plan, plan
        assert "ix_topic_optouts_topic_customer_id" in plan, plan


def test_an_erased_address_is_still_found_by_its_hash() -> None:
    assert suppression.address_hash(" A@Example.com") == suppression.address_hash("a@example.com")
    assert suppression.address_hash("+91 (99) 0000-0001") == suppression.address_hash("+9199000000 01")
    assert suppression.address_hash("a@example.com") != suppression.address_hash("b@example.com")


def test_failure_reasons_that_suppress_and_those_that_do_not() -> None:
    assert suppression_reason("Recipient marked as spam (complaint)") == "complaint"
    assert suppression_reason("550 5.1.1 no such user") == "invalid_address"
    assert suppression_reason("mailbox full") is None
    assert suppression_reason("mailbox full", permanent=False) is None
    assert suppression_reason("something new", permanent=True) == "hard_bounce"


def test_sms_messages_end_with_the_opt_out_line_unless_they_already_say_stop() -> None:
    messages = pl.Series("message", ["10% off today", "Sale! Text STOP to end", None])

    assert with_opt_out(messages, "Reply STOP to opt out").to_list() == [
        "10% off today\nReply STOP to opt out", "Sale! Text STOP to end", None,
    ]  # fmt: skip
    assert with_opt_out(messages, None).to_list() == messages.to_list()
