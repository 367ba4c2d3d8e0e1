"""The receipts applier: statuses only move forward, whatever the order, duplication or batching of receipts."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, text

from engine import streams
from engine.campaigns.receipts import GROUP, STREAM, drain_receipts
from engine.connections import get_engine, get_redis
from engine.settings import Settings
from tests.engine.campaigns.helpers import NOON, delivery_settings, features, launch, log_rows

T0 = NOON + timedelta(seconds=1)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def receipt(log_id: int, status: str, seconds: float, reason: str | None = None) -> dict[str, Any]:
    return {"vendor_message_id": f"vm_{log_id}", "reference": log_id, "status": status, "reason": reason,
            "occurred_at": at(seconds)}  # fmt: skip


def post(client: redis.Redis, config: Settings, *callbacks: Any) -> None:
    for callback in callbacks:
        streams.publish(client, config.stream(STREAM), callback)


def launched(db: Engine, client: redis.Redis, config: Settings, count: int) -> list[int]:
    report = launch(db, client, config, features(count))
    return [row["id"] for row in log_rows(db, report.campaign_id)]


def fates(db: Engine) -> dict[int, tuple[Any, ...]]:
    with db.connect() as conn:
        rows = conn.execute(text("SELECT id, status, reason, sent_at, delivered_at, failed_at, vendor_message_id "
                                 "FROM communication_log ORDER BY id"))  # fmt: skip
        return {row[0]: tuple(row[1:]) for row in rows}


def moment(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_receipts_move_each_message_to_its_final_status_with_the_time_of_each_step(
    database: Engine, redis_client: redis.Redis
) -> None:
    config = delivery_settings()
    first, second, third = launched(database, redis_client, config, 3)
    post(redis_client, config, [receipt(first, "sent", 1), receipt(second, "sent", 1)])
    post(redis_client, config, [receipt(first, "delivered", 2), receipt(second, "failed", 3, "unreachable")])

    report = drain_receipts(database, redis_client, config, consumer="tests")

    assert (report.entries, report.receipts, report.changed) == (2, 4, 2)
    assert fates(database) == {
        first: ("delivered", None, moment(1), moment(2), None, f"vm_{first}"),
        second: ("failed", "unreachable", moment(1), None, moment(3), f"vm_{second}"),
        third: ("queued", None, None, None, None, None),
    }


def test_duplicated_late_and_reordered_receipts_never_move_a_status_back(
    database: Engine, redis_client: redis.Redis
) -> None:
    config = delivery_settings()
    first, second, third = launched(database, redis_client, config, 3)
    post(redis_client, config,
         [receipt(first, "delivered", 2)],  # the final receipt before the sent one
         [receipt(second, "failed", 2, "carrier rejected"), receipt(second, "failed", 2, "carrier rejected")],
         [receipt(third, "delivered", 2)])  # fmt: skip
    drain_receipts(database, redis_client, config, consumer="tests")
    post(redis_client, config,
         [receipt(first, "sent", 1)],  # late: records its time, changes nothing else
         [receipt(second, "delivered", 5), receipt(second, "sent", 1)],  # contradicts a final status: ignored
         [receipt(third, "delivered", 9)])  # a duplicate with another time: the first stays  # fmt: skip
    drain_receipts(database, redis_client, config, consumer="tests")

    assert fates(database) == {
        first: ("delivered", None, moment(1), moment(2), None, f"vm_{first}"),
        second: ("failed", "carrier rejected", moment(1), None, moment(2), f"vm_{second}"),
        third: ("delivered", None, None, moment(2), None, f"vm_{third}"),
    }


def test_malformed_receipts_are_left_out_and_the_rest_applied(database: Engine, redis_client: redis.Redis) -> None:
    config = delivery_settings()
    [first] = launched(database, redis_client, config, 1)
    post(redis_client, config, [receipt(first, "delivered", 1), {**receipt(first, "sent", 0), "reference": "x1"},
                                {**receipt(first, "bounced", 1)}, "nonsense"])  # fmt: skip

    report = drain_receipts(database, redis_client, config, consumer="tests")

    assert (report.receipts, report.malformed, report.changed) == (4, 3, 1)
    assert fates(database)[first][0] == "delivered"


def failure_kinds(db: Engine) -> dict[int, str | None]:
    with db.connect() as conn:
        return dict(conn.execute(text("SELECT id, failure_kind FROM communication_log")).all())


def test_a_failed_receipt_records_whether_its_failure_is_permanent_and_the_vendors_flag_wins(
    database: Engine, redis_client: redis.Redis
) -> None:
    config = delivery_settings()
    ids = launched(database, redis_client, config, 7)
    post(redis_client, config, [
        receipt(ids[0], "failed", 1, "unsubscribed"),
        receipt(ids[1], "failed", 1, "mailbox full"),
        receipt(ids[2], "failed", 1),  # no reason: not known to be retryable
        {**receipt(ids[3], "failed", 1, "mailbox full"), "permanent": True},  # a hard bounce, says the vendor
        {**receipt(ids[4], "failed", 1, "rejected: policy 5.7.1"), "permanent": False},
        receipt(ids[5], "delivered", 1),
        {**receipt(ids[6], "failed", 1, "unreachable"), "permanent": "yes"},  # malformed: left out
    ])  # fmt: skip

    report = drain_receipts(database, redis_client, config, consumer="tests")

    assert report.malformed == 1
    assert [failure_kinds(database)[log_id] for log_id in ids] == [
        "permanent", "transient", "permanent", "permanent", "transient", None, None,
    ]  # fmt: skip


def test_a_later_failed_receipt_does_not_change_the_kind_of_a_failure_already_recorded(
    database: Engine, redis_client: redis.Redis
) -> None:
    config = delivery_settings()
    [first] = launched(database, redis_client, config, 1)
    post(redis_client, config, [receipt(first, "failed", 1, "unsubscribed")])
    drain_receipts(database, redis_client, config, consumer="tests")
    post(redis_client, config, [{**receipt(first, "failed", 2, "unreachable"), "permanent": False}])
    drain_receipts(database, redis_client, config, consumer="tests")

    assert (fates(database)[first][:2], failure_kinds(database)[first]) == (("failed", "unsubscribed"), "permanent")


def test_receipts_a_crashed_applier_took_are_reclaimed_and_applied_once(
    database: Engine, redis_client: redis.Redis
) -> None:
    config = delivery_settings(delivery_claim_idle_ms=1)
    first, second = launched(database, redis_client, config, 2)
    post(redis_client, config, [receipt(first, "delivered", 1)], [receipt(second, "failed", 1, "unreachable")])
    stream = config.stream(STREAM)
    streams.ensure_group(redis_client, stream, GROUP)
    streams.read(redis_client, stream, GROUP, "crashed", 10, None)  # read, never acknowledged
    time.sleep(0.01)  # idle for longer than delivery_claim_idle_ms

    report = drain_receipts(database, redis_client, config, consumer="survivor")

    assert (report.reclaimed, report.changed) == (2, 2)
    assert [fate[0] for fate in fates(database).values()] == ["delivered", "failed"]
    assert streams.backlog(redis_client, stream, GROUP) == streams.Backlog(0, 0)


def test_a_receipts_entry_appliers_kept_dying_on_is_logged_with_its_body_and_dropped(
    database: Engine, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    config = delivery_settings(delivery_claim_idle_ms=1)
    first, second = launched(database, redis_client, config, 2)
    post(redis_client, config, [receipt(first, "delivered", 1)])
    stream = config.stream(STREAM)
    streams.ensure_group(redis_client, stream, GROUP)
    for dead in ("dead-1", "dead-2", "dead-3"):  # each takes the entry and dies applying it
        assert len(streams.StreamConsumer(redis_client, stream, GROUP, dead, 0, 10).next_batch()) == 1
    post(redis_client, config, [receipt(second, "delivered", 1)])
    time.sleep(0.01)  # idle for longer than delivery_claim_idle_ms

    with caplog.at_level(logging.ERROR, logger="engine.campaigns.receipts"):
        report = drain_receipts(database, redis_client, config, consumer="survivor")

    assert (report.entries, report.given_up, report.changed) == (2, 1, 1)
    assert [fate[0] for fate in fates(database).values()] == ["queued", "delivered"]
    [dropped] = [record.getMessage() for record in caplog.records if record.name == "engine.campaigns.receipts"]
    assert "delivered 3 times without being applied" in dropped
    assert f'"reference":{first}' in dropped
    assert streams.backlog(redis_client, stream, GROUP) == streams.Backlog(0, 0)


def test_receipts_postgres_cannot_apply_for_several_rounds_are_applied_once_it_can_and_never_dropped(
    database: Engine, redis_client: redis.Redis
) -> None:
    config = delivery_settings(delivery_claim_idle_ms=1)
    [first] = launched(database, redis_client, config, 1)
    post(redis_client, config, [receipt(first, "delivered", 1)])
    impatient = create_engine(database.url, connect_args={"options": "-c lock_timeout=100"})
    failures = 0
    deadline = time.monotonic() + 60
    with database.connect() as blocker:
        blocker.begin()
        blocker.execute(text("SELECT 1 FROM communication_log WHERE id = :id FOR UPDATE"), {"id": first})
        while failures < 2 * streams.MAX_DELIVERIES:  # the lock outlasts several rounds of the applier
            assert time.monotonic() < deadline, f"only {failures} rounds failed within 60 s"
            try:
                report = drain_receipts(impatient, redis_client, config, consumer=f"round-{failures}")
            except psycopg.errors.LockNotAvailable:
                failures += 1
            else:
                assert report.entries == 0, "nothing is taken before its claim runs out, nor given up on"
        blocker.rollback()
    impatient.dispose()

    report = drain_receipts(database, redis_client, config, consumer="after")

    assert (report.entries, report.given_up, report.changed) == (1, 0, 1)
    assert fates(database)[first][0] == "delivered"


Story = list[tuple[int, str]]


@st.composite
def receipt_stories(draw: st.DrawFn) -> tuple[dict[int, str], Story, list[int]]:
    """Each of 4 messages gets a sent receipt (maybe) and one final, in any order, some more than once,
    cut into callbacks anywhere."""
    finals = {n: draw(st.sampled_from(["delivered", "failed"])) for n in range(4)}
    story: Story = []
    for n, final in finals.items():
        story += [(n, final)] + ([(n, "sent")] if draw(st.booleans()) else [])
    story += draw(st.lists(st.sampled_from(story), max_size=4))
    shuffled = draw(st.permutations(story))
    cuts = sorted(draw(st.lists(st.integers(1, max(1, len(story) - 1)), max_size=3, unique=True)))
    return finals, list(shuffled), cuts


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(receipt_stories())
def test_any_order_duplication_and_batching_of_receipts_leaves_the_final_status_and_times(
    database: Engine, redis_client: redis.Redis, case: tuple[dict[int, str], Story, list[int]]
) -> None:
    finals, story, cuts = case
    db, client, config = get_engine(), get_redis(), delivery_settings()
    with db.begin() as conn:
        conn.execute(text("TRUNCATE campaigns, communication_log RESTART IDENTITY CASCADE"))
    ids = launched(db, client, config, 4)
    seconds = {"sent": 1, "delivered": 2, "failed": 2}
    callbacks = [story[start:end] for start, end in zip([0, *cuts], [*cuts, len(story)], strict=True)]
    for callback in callbacks:
        post(client, config, [receipt(ids[n], status, seconds[status], "why" if status == "failed" else None)
                              for n, status in callback])  # fmt: skip
        drain_receipts(db, client, config, consumer="tests")

    for n, final in finals.items():
        status, reason, sent_at, delivered_at, failed_at, _ = fates(db)[ids[n]]
        had_sent = (n, "sent") in story
        assert status == final
        assert sent_at == (moment(1) if had_sent else None)
        assert (delivered_at, failed_at) == ((moment(2), None) if final == "delivered" else (None, moment(2)))
        assert reason == ("why" if final == "failed" else None)
