"""The ingest consumer: a crash loses nothing, nothing is applied twice, refused records become dead letters."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, cast

import orjson
import psycopg
import pytest
import redis
from sqlalchemy import Connection, Engine, text

from engine import streams
from engine.ingest import consumer, deadletters
from engine.ingest.apply import ApplyCounts, apply_batch
from engine.ingest.consumer import GROUP, DrainReport, drain
from engine.ingest.records import Batch, CustomerRecord, EventRecord, empty_batch
from engine.settings import get_settings
from tests.api.vendor.loopback import wait_until

NOW = "2026-11-25T10:00:00+00:00"
ROOT = Path(__file__).resolve().parents[3]


def event(n: int, **fields: Any) -> EventRecord:
    record = {"message_id": f"m-{n}", "customer_external_id": f"c-{n % 3}", "anonymous_id": None, "type": "track",
              "name": "Product Viewed", "properties": {"n": n}, "context": {}, "occurred_at": NOW}  # fmt: skip
    return cast(EventRecord, record | fields)


def events_batch(*numbers: int) -> Batch:
    batch = empty_batch()
    batch["events"] = [event(n) for n in numbers]
    return batch


def count(db: Engine, sql: str) -> int:
    with db.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_a_consumer_killed_before_acknowledging_loses_nothing_and_applies_once(
    database: Engine, redis_client: redis.Redis
) -> None:
    settings = get_settings()
    stream = settings.stream("ingest")
    for start in (0, 10, 20):
        streams.publish(redis_client, stream, events_batch(*range(start, start + 10)))
    streams.ensure_group(redis_client, stream, GROUP)
    # A consumer reads two entries, then dies before it commits or acknowledges anything.
    taken = streams.read(redis_client, stream, GROUP, "doomed", count=2, block_ms=None)
    assert len(taken) == 2
    assert streams.backlog(redis_client, stream, GROUP).pending == 2

    first = drain(database, redis_client, settings, consumer="survivor")
    assert first.applied == 10, "entries a live consumer may still be working on are left to it"

    impatient = settings.model_copy(update={"ingest_claim_idle_ms": 0})
    second = drain(database, redis_client, impatient, consumer="survivor")
    assert second.reclaimed == 2
    assert count(database, "SELECT count(*) FROM events") == 30
    assert count(database, "SELECT count(DISTINCT message_id) FROM events") == 30
    assert streams.backlog(redis_client, stream, GROUP) == streams.Backlog(0, 0)


def test_entries_applied_but_not_acknowledged_are_applied_again_without_effect(
    database: Engine, redis_client: redis.Redis
) -> None:
    settings = get_settings()
    stream = settings.stream("ingest")
    streams.publish(redis_client, stream, events_batch(1, 2, 3))
    drain(database, redis_client, settings)
    # The same entry again, as after a crash between the commit and the acknowledgement.
    streams.publish(redis_client, stream, events_batch(1, 2, 3))
    again = drain(database, redis_client, settings)
    assert (again.applied, again.duplicates) == (0, 3)
    assert count(database, "SELECT count(*) FROM events") == 3


def test_records_postgres_refuses_become_dead_letters_and_the_rest_is_applied(
    database: Engine, redis_client: redis.Redis
) -> None:
    settings = get_settings()
    stream = settings.stream("ingest")
    poisoned = events_batch(1, 2)
    poisoned["events"].append(event(3, properties={"note": "nul \u0000 byte"}))
    streams.publish(redis_client, stream, poisoned)
    redis_client.xadd(stream, {streams.PAYLOAD: b"{not json"})
    redis_client.xadd(stream, {streams.PAYLOAD: b'{"customers": "nope"}'})

    report = drain(database, redis_client, settings)

    assert (report.applied, report.dead_lettered) == (2, 3)
    assert count(database, "SELECT count(*) FROM events") == 2
    letters = deadletters.list_dead_letters(database)
    assert [letter.kind for letter in letters] == ["entry", "entry", "events"]
    assert "undecodable" in letters[0].error
    assert "lists of customers" in letters[1].error
    assert "unsupported Unicode escape sequence" in letters[2].error
    assert streams.backlog(redis_client, stream, GROUP) == streams.Backlog(0, 0), "dead letters are acknowledged"


def test_a_replayed_dead_letter_goes_back_through_the_stream(database: Engine, redis_client: redis.Redis) -> None:
    settings = get_settings()
    stream = settings.stream("ingest")
    batch = empty_batch()
    batch["orders"].append({"external_id": "o1", "customer_external_id": "c1", "amount": "12.50", "currency": "INR",
                            "status": "completed", "items": [], "ordered_at": "not a time", "ts": NOW})  # fmt: skip
    streams.publish(redis_client, stream, batch)
    drain(database, redis_client, settings)
    [letter] = deadletters.list_dead_letters(database)
    assert letter.kind == "orders"
    assert "not a time" in letter.error

    # An operator fixes the record where it is kept, then replays it.
    with database.begin() as conn:
        conn.execute(text("UPDATE ingest_dead_letters SET payload = replace(payload, 'not a time', :t)"), {"t": NOW})
    assert deadletters.replay(database, redis_client, stream) == [letter.id]
    report = drain(database, redis_client, settings)
    assert report.applied == 1
    assert count(database, "SELECT count(*) FROM orders") == 1
    assert deadletters.list_dead_letters(database) == []


def poisoned_backlog(client: redis.Redis, entries: int, records: int, poisoned: set[int]) -> None:
    """`entries` entries of `records` events each, put straight on the stream (as an older API or a replayed dead
    letter would); the events numbered in `poisoned` carry a NUL byte, which Postgres refuses in jsonb."""
    stream = get_settings().stream("ingest")
    with client.pipeline(transaction=False) as pipe:
        for start in range(0, entries * records, records):
            batch = empty_batch()
            batch["events"] = [
                event(n, properties={"note": "nul \u0000" if n in poisoned else "fine"})
                for n in range(start, start + records)
            ]
            pipe.xadd(stream, streams.entry_fields(batch))  # type: ignore[arg-type]
        pipe.execute()


@pytest.mark.parametrize("poisoned", [{70_123}, {5, 49_999, 99_998}])
def test_a_few_refused_records_in_a_large_batch_no_longer_hold_up_the_rest(
    database: Engine, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch, poisoned: set[int]
) -> None:
    entries, records = 200, 500
    poisoned_backlog(redis_client, entries, records, poisoned)
    attempts = 0

    def counted_apply_batch(conn: Connection, batch: Batch) -> ApplyCounts:
        nonlocal attempts
        attempts += 1
        return apply_batch(conn, batch)

    monkeypatch.setattr(consumer, "apply_batch", counted_apply_batch)

    report = drain(database, redis_client, get_settings())

    good = entries * records - len(poisoned)
    assert (report.entries, report.batches, report.applied, report.dead_lettered) == (entries, 1, good, len(poisoned))
    assert count(database, "SELECT count(DISTINCT message_id) FROM events") == good
    letters = deadletters.list_dead_letters(database)
    assert sorted(orjson.loads(letter.payload)["message_id"] for letter in letters) == sorted(
        f"m-{n}" for n in poisoned
    )
    assert all("unsupported Unicode escape sequence" in letter.error for letter in letters)
    # Halving down to each bad record: two tries per level (by entry, then by record) for each, and the first.
    assert attempts <= 1 + 2 * len(poisoned) * (math.ceil(math.log2(entries)) + math.ceil(math.log2(records)))


def test_an_entry_consumers_kept_dying_on_is_dead_lettered_record_by_record_and_can_be_replayed(
    database: Engine, redis_client: redis.Redis
) -> None:
    settings = get_settings().model_copy(update={"ingest_claim_idle_ms": 0})
    stream = settings.stream("ingest")
    streams.ensure_group(redis_client, stream, GROUP)
    streams.publish(redis_client, stream, events_batch(1, 2))
    for dead in ("dead-1", "dead-2", "dead-3"):  # each takes the entry and dies (say, out of memory) applying it
        assert len(consumer.consumer_of(redis_client, settings, dead).next_batch()) == 1
    streams.publish(redis_client, stream, events_batch(3))

    report = drain(database, redis_client, settings, consumer="survivor")

    assert (report.entries, report.given_up, report.applied, report.dead_lettered) == (2, 1, 1, 2)
    letters = deadletters.list_dead_letters(database)
    assert [(letter.kind, letter.error) for letter in letters] == [
        ("events", "entry was delivered 3 times without being applied")
    ] * 2
    assert streams.backlog(redis_client, stream, GROUP) == streams.Backlog(0, 0)
    deadletters.replay(database, redis_client, stream)
    assert drain(database, redis_client, settings).applied == 2
    assert count(database, "SELECT count(*) FROM events") == 3


def test_a_run_bounded_in_time_applies_a_batch_then_stops_and_leaves_the_rest(
    database: Engine, redis_client: redis.Redis
) -> None:
    settings = get_settings().model_copy(update={"ingest_batch_size": 1})
    stream = settings.stream("ingest")
    for n in range(3):
        streams.publish(redis_client, stream, events_batch(n))

    report = drain(database, redis_client, settings, max_seconds=0)

    assert (report.batches, report.applied, report.stopped) == (1, 1, "max_seconds")
    assert streams.backlog(redis_client, stream, GROUP).undelivered == 2


DOOMED_CONSUMER = (
    "from engine.connections import get_engine, get_redis\n"
    "from engine.ingest.consumer import drain\n"
    "from engine.settings import get_settings\n"
    "drain(get_engine(), get_redis(), get_settings(), consumer='doomed')\n"
)


def drain_within(seconds: float, *args: Any, **kwargs: Any) -> DrainReport:
    """`drain(*args, **kwargs)`, failing the test if it has not returned within `seconds` (say, it took over
    a batch whose rows another consumer still locks)."""
    reports: list[DrainReport] = []
    thread = threading.Thread(target=lambda: reports.append(drain(*args, **kwargs)), daemon=True)
    thread.start()
    thread.join(seconds)
    if not reports:
        pytest.fail(f"drain still running after {seconds} s")
    return reports[0]


def waiting_on_a_lock(db: Engine) -> bool:
    return bool(count(db, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"))


def test_a_slow_batch_stays_with_its_consumer_and_a_killed_consumers_batch_is_taken_over(
    database: Engine, redis_client: redis.Redis, tmp_path: Path
) -> None:
    settings = get_settings().model_copy(update={"ingest_claim_idle_ms": 1_000})
    stream = settings.stream("ingest")
    streams.ensure_group(redis_client, stream, GROUP)
    streams.publish(redis_client, stream, events_batch(0, 1, 2))
    env = {**os.environ, "INGEST_CLAIM_IDLE_MS": str(settings.ingest_claim_idle_ms)}
    with database.connect() as blocker, (tmp_path / "doomed.log").open("wb") as output:
        blocker.begin()
        blocker.execute(text("INSERT INTO customers (external_id) VALUES ('c-0')"))  # the batch's upsert waits on it
        doomed = subprocess.Popen([sys.executable, "-c", DOOMED_CONSUMER], cwd=ROOT, env=env, stdout=output,
                                  stderr=subprocess.STDOUT)  # fmt: skip
        try:
            wait_until(lambda: waiting_on_a_lock(database), lambda: (tmp_path / "doomed.log").read_text(), timeout=30)
            several_claim_timeouts = time.monotonic() + 3.5
            while time.monotonic() < several_claim_timeouts:
                assert drain_within(5, database, redis_client, settings, consumer="survivor").entries == 0
        finally:
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(timeout=10)
            blocker.rollback()

    deadline = time.monotonic() + 20
    while not (taken := drain(database, redis_client, settings, consumer="survivor")).entries:
        assert time.monotonic() < deadline, "the killed consumer's batch was never taken over"
        time.sleep(0.05)
    assert taken.reclaimed == 1
    assert count(database, "SELECT count(DISTINCT message_id) FROM events") == 3
    assert streams.backlog(redis_client, stream, GROUP) == streams.Backlog(0, 0)


def customer(external_id: str, ts: str, **fields: Any) -> CustomerRecord:
    return cast(CustomerRecord, {"external_id": external_id, "ts": ts, **fields})


def test_splitting_a_refused_batch_applies_each_half_once_and_the_newest_update_wins(
    database: Engine, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = get_settings().stream("ingest")
    older, newer = "2026-11-25T09:00:00+00:00", NOW
    for n in range(4):  # 4 entries of 10 customers; `x` moves from Agra to Pune, beside an event Postgres refuses
        batch = empty_batch()
        batch["customers"] = [customer(f"e{n}-c{k}", NOW) for k in range(9)]
        if n == 0:
            batch["customers"].append(customer("x", older, city="Agra"))
        elif n == 3:
            batch["customers"].append(customer("x", newer, city="Pune"))
            batch["events"] = [event(1, properties={"note": "nul \u0000 byte"})]
        else:
            batch["customers"].append(customer(f"e{n}-c9", NOW))
        streams.publish(redis_client, stream, batch)
    attempts = 0

    def counted_apply_batch(conn: Connection, batch: Batch) -> ApplyCounts:
        nonlocal attempts
        attempts += 1
        return apply_batch(conn, batch)

    monkeypatch.setattr(consumer, "apply_batch", counted_apply_batch)

    report = drain(database, redis_client, get_settings())

    assert count(database, "SELECT count(*) FROM customers WHERE external_id = 'x' AND city = 'Pune'") == 1
    assert count(database, "SELECT count(*) FROM customers") == 4 * 9 + 2 + 1
    assert (report.applied, report.duplicates, report.dead_lettered) == (40, 0, 1)
    [letter] = deadletters.list_dead_letters(database)
    assert (letter.kind, orjson.loads(letter.payload)["message_id"]) == ("events", "m-1")
    assert attempts <= 1 + 2 * (math.ceil(math.log2(4)) + math.ceil(math.log2(11)))


def test_a_lock_timeout_is_not_blamed_on_the_records_and_the_batch_applies_once_the_lock_is_gone(
    database: Engine, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = get_settings().model_copy(update={"ingest_claim_idle_ms": 0})
    streams.publish(redis_client, settings.stream("ingest"), events_batch(0, 1, 2))

    def impatient_apply_batch(conn: Connection, batch: Batch) -> ApplyCounts:
        conn.exec_driver_sql("SET LOCAL lock_timeout = '100ms'")
        return apply_batch(conn, batch)

    monkeypatch.setattr(consumer, "apply_batch", impatient_apply_batch)
    with database.connect() as blocker:
        blocker.begin()
        blocker.execute(text("INSERT INTO customers (external_id) VALUES ('c-0')"))  # the batch's insert waits on it
        for run in range(2 * streams.MAX_DELIVERIES):  # the lock outlasts several runs
            with pytest.raises(psycopg.errors.LockNotAvailable):
                drain(database, redis_client, settings, consumer=f"run-{run}")
        assert deadletters.list_dead_letters(database) == []
        blocker.rollback()

    report = drain(database, redis_client, settings, consumer="after")

    assert (report.applied, report.dead_lettered, report.given_up) == (3, 0, 0)
    assert count(database, "SELECT count(*) FROM events") == 3


def test_an_entry_handled_again_after_a_crash_before_its_acknowledgement_is_dead_lettered_once(
    database: Engine,
) -> None:
    refused = events_batch(1)
    refused["events"].append(event(2, properties={"note": "nul \u0000 byte"}))
    applied = streams.Entry("1-0", refused, orjson.dumps(refused))
    undecodable = streams.Entry("2-0", None, b"{not json", "undecodable payload")
    poison = streams.Entry("3-0", events_batch(3, 4), orjson.dumps(events_batch(3, 4)), deliveries=4)

    for _ in range(2):  # the second time as the next consumer does, the first having committed and died
        consumer.apply_entries(database, [applied, undecodable])
        consumer.dead_letter_poison(database, [poison])

    letters = deadletters.list_dead_letters(database)
    assert sorted((letter.stream_entry_id, letter.kind) for letter in letters) == [
        ("1-0", "events"), ("2-0", "entry"), ("3-0", "events"), ("3-0", "events"),
    ]  # fmt: skip
    assert count(database, "SELECT count(*) FROM events") == 1


def drain_past_a_batch_held_up(
    db: Engine, client: redis.Redis, batch_size: int, before: range, after: range, applied_meanwhile: int
) -> DrainReport:
    """Drain with two appliers while the batch of the first entry waits on a lock: entries of events `before` are
    published behind it, those of `after` once it waits; `applied_meanwhile` events must be applied before the lock
    goes. The drain's report."""
    settings = get_settings().model_copy(update={"ingest_batch_size": batch_size})
    stream = settings.stream("ingest")
    streams.ensure_group(client, stream, GROUP)
    held_up = empty_batch()
    held_up["events"] = [event(0, customer_external_id="c-locked")]
    streams.publish(client, stream, held_up)
    for n in before:
        streams.publish(client, stream, events_batch(n))
    seen: list[DrainReport] = []
    with db.connect() as blocker:
        blocker.begin()
        blocker.execute(text("INSERT INTO customers (external_id) VALUES ('c-locked')"))
        drained = threading.Thread(target=lambda: seen.append(drain(db, client, settings, consumer="pair", appliers=2)))
        drained.start()
        wait_until(lambda: waiting_on_a_lock(db), lambda: "no applier reached the lock", timeout=20)
        for n in after:
            streams.publish(client, stream, events_batch(n))
        wait_until(lambda: count(db, "SELECT count(*) FROM events") == applied_meanwhile,
                   lambda: "the other applier did not go on while one waited", timeout=30)  # fmt: skip
        blocker.rollback()
    drained.join(timeout=30)
    [report] = seen
    assert streams.backlog(client, stream, GROUP) == streams.Backlog(0, 0)
    return report


def test_a_batch_held_up_by_a_lock_does_not_hold_up_the_other_appliers(
    database: Engine, redis_client: redis.Redis
) -> None:
    report = drain_past_a_batch_held_up(database, redis_client, 1, range(1, 12), range(0), applied_meanwhile=11)
    assert (report.entries, report.applied, report.batches, report.stopped) == (12, 12, 12, "drained")
    assert count(database, "SELECT count(DISTINCT message_id) FROM events") == 12


def test_a_batch_held_up_by_a_lock_lets_another_applier_take_what_arrives_after_it(
    database: Engine, redis_client: redis.Redis
) -> None:
    # No read comes back full: the other applier goes on because the first has been on its batch too long.
    report = drain_past_a_batch_held_up(database, redis_client, 50, range(0), range(1, 4), applied_meanwhile=3)
    assert (report.entries, report.applied) == (4, 4)


def test_extra_appliers_read_only_while_reads_come_back_full_or_the_first_is_held_up() -> None:
    now = [0.0]
    backlog = consumer.Backlog(batch_size=3, clock=lambda: now[0])
    entries = [streams.Entry(f"{n}-0", {}, b"{}") for n in range(3)]
    backlog.read(entries)
    assert backlog.ready()  # a full read: more is waiting
    backlog.read(entries[:1])
    backlog.first_busy_since = 0.0
    now[0] = consumer.Backlog.STUCK_S + 0.1
    assert backlog.ready()  # a short read, but the first applier has been on its batch too long
    backlog.first_busy_since = None
    backlog.first_finished.set()
    assert not backlog.ready()  # a short read, the first applier idle, and then done: nothing for an extra one
