"""The one stream-consumer loop: a slow apply keeps its entries claimed, a dead consumer's entries are
reclaimed, a poison entry is given up on, and a run stops at its bounds with a report of what it did."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import redis

from engine import streams
from engine.settings import get_settings
from engine.streams import ConsumerReport, Entry, StreamConsumer, ids
from tests.api.vendor.loopback import wait_until

GROUP = "testers"


def consumer(client: redis.Redis, name: str, claim_idle_ms: int = 1_000, batch_size: int = 10) -> StreamConsumer:
    return StreamConsumer(client, get_settings().stream("tests"), GROUP, name, claim_idle_ms, batch_size)


def publish(client: redis.Redis, *payloads: Any) -> list[str]:
    return [streams.publish(client, get_settings().stream("tests"), payload) for payload in payloads]


def owners(client: redis.Redis) -> dict[str, str]:
    pending: Any = client.xpending_range(get_settings().stream("tests"), GROUP, "-", "+", 100)
    return {streams.entry_id_text(row["message_id"]): row["consumer"].decode() for row in pending}


def nothing_to_give_up(entries: list[Entry]) -> None:
    raise AssertionError(f"gave up on {entries}")


ROOT = Path(__file__).resolve().parents[2]

# A consumer process that takes the test stream's entries and works on them until it is killed.
HANGING_CONSUMER = f"""
import sys, threading
from engine.connections import get_redis
from engine.settings import get_settings
from engine.streams import ConsumerReport, StreamConsumer

worker = StreamConsumer(get_redis(), get_settings().stream("tests"), {GROUP!r}, sys.argv[1], int(sys.argv[2]), 10)
worker.run(lambda entries: threading.Event().wait(), lambda entries: None, ConsumerReport())
"""


@contextmanager
def hanging_until_killed(name: str, claim_idle_ms: int) -> Iterator[subprocess.Popen[bytes]]:
    """A consumer `name` in its own process, hanging in the apply of its first batch; killed (SIGKILL) at the end
    of the block, as an out-of-memory kill would, leaving its batch unacknowledged."""
    process = subprocess.Popen([sys.executable, "-c", HANGING_CONSUMER, name, str(claim_idle_ms)], cwd=ROOT)
    try:
        yield process
    finally:
        process.kill()
        process.wait(timeout=30)


def first_batch_taken(worker: StreamConsumer, timeout: float = 10) -> list[Entry]:
    """The first entries `worker` takes (reclaims or reads) within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (batch := worker.next_batch()):
        if time.monotonic() > deadline:
            pytest.fail(f"{worker.name} took nothing within {timeout} s; pending: {owners(worker.client)}")
        time.sleep(0.05)
    return batch


def test_a_slow_apply_keeps_its_entries_from_other_consumers_until_its_consumer_dies(redis_client: redis.Redis) -> None:
    claim_idle_ms = 3_000  # the keep-alive runs every second: a loaded machine has two seconds to spare
    second = consumer(redis_client, "second", claim_idle_ms=claim_idle_ms)
    second.ensure_group()
    entry_ids = publish(redis_client, {"n": 1}, {"n": 2})

    with hanging_until_killed("first", claim_idle_ms):
        wait_until(lambda: owners(redis_client) == dict.fromkeys(entry_ids, "first"), lambda: owners(redis_client), 60)
        taken_meanwhile: list[Entry] = []
        several_idle_periods = time.monotonic() + 2.5 * claim_idle_ms / 1000
        while time.monotonic() < several_idle_periods:
            taken_meanwhile += second.next_batch()
            time.sleep(0.05)

    assert taken_meanwhile == []
    reclaimed = first_batch_taken(second)
    assert [entry.id for entry in reclaimed] == entry_ids
    assert [entry.deliveries for entry in reclaimed] == [2, 2]
    assert [entry.payload for entry in reclaimed] == [{"n": 1}, {"n": 2}]


def test_keeping_entries_claimed_never_takes_back_one_another_consumer_took_over(redis_client: redis.Redis) -> None:
    first, second = consumer(redis_client, "first"), consumer(redis_client, "second")
    first.ensure_group()
    kept_id, lost_id = publish(redis_client, {"n": 1}, {"n": 2})
    first.next_batch()
    redis_client.xclaim(first.stream, GROUP, second.name, 0, [lost_id], justid=True)  # `first` stalled meanwhile

    assert first.keep_claimed([kept_id, lost_id]) == [kept_id]
    assert owners(redis_client) == {kept_id: "first", lost_id: "second"}


def test_an_entry_consumers_kept_dying_on_is_given_up_on_and_the_rest_applied(redis_client: redis.Redis) -> None:
    consumer(redis_client, "survivor").ensure_group()
    poison_id, *_ = publish(redis_client, {"n": "poison"})
    for dead in ("dead-1", "dead-2", "dead-3"):  # each takes the entry (reclaims it) and dies before acknowledging
        assert [entry.id for entry in consumer(redis_client, dead, claim_idle_ms=0).next_batch()] == [poison_id]
    fresh_id, *_ = publish(redis_client, {"n": "fresh"})
    applied: list[Entry] = []
    given_up: list[Entry] = []

    report = consumer(redis_client, "survivor", claim_idle_ms=0).run(applied.extend, given_up.extend, ConsumerReport())

    assert [(entry.id, entry.deliveries) for entry in given_up] == [(poison_id, 4)]
    assert [entry.id for entry in applied] == [fresh_id]
    assert report == ConsumerReport(entries=2, reclaimed=1, given_up=1, batches=2, stopped="drained")
    assert streams.backlog(redis_client, get_settings().stream("tests"), GROUP) == streams.Backlog(0, 0)


def ticking(seconds: float) -> Callable[[], float]:
    """A clock that moves `seconds` on each reading."""
    ticks = count()
    return lambda: next(ticks) * seconds


def test_a_run_stops_at_its_bound_in_time_or_batches_and_says_which(redis_client: redis.Redis) -> None:
    worker = consumer(redis_client, "bounded", batch_size=1)
    worker.ensure_group()
    publish(redis_client, *({"n": n} for n in range(6)))
    applied: list[Entry] = []

    timed = worker.run(applied.extend, nothing_to_give_up, ConsumerReport(), max_seconds=25, clock=ticking(10))
    counted = worker.run(applied.extend, nothing_to_give_up, ConsumerReport(), max_batches=2)
    drained = worker.run(applied.extend, nothing_to_give_up, ConsumerReport())

    assert (timed.batches, timed.stopped) == (3, "max_seconds")  # 10 s, 20 s, then 30 s ≥ 25 s
    assert (counted.batches, counted.stopped) == (2, "max_batches")
    assert (drained.batches, drained.stopped) == (1, "drained")
    assert [entry.payload["n"] for entry in applied] == list(range(6))


class PostgresDown(Exception):
    """What an apply raises while Postgres is away."""


def refuse(_entries: list[Entry]) -> None:
    raise PostgresDown("connection refused")


def test_an_apply_that_fails_in_many_runs_gives_nothing_up_and_applies_once_the_cause_is_gone(
    redis_client: redis.Redis,
) -> None:
    entry_ids = publish(redis_client, {"n": 1}, {"n": 2})
    for run in range(2 * streams.MAX_DELIVERIES):  # an outage outlasting several claim timeouts
        with pytest.raises(PostgresDown):
            consumer(redis_client, f"run-{run}", claim_idle_ms=0).run(refuse, nothing_to_give_up, ConsumerReport())
    assert set(owners(redis_client)) == set(entry_ids), "the batch stays pending while it cannot be applied"

    applied: list[Entry] = []
    report = consumer(redis_client, "back", claim_idle_ms=0).run(applied.extend, nothing_to_give_up, ConsumerReport())

    assert [(entry.id, entry.deliveries) for entry in applied] == [(entry_id, 1) for entry_id in entry_ids]
    assert (report.entries, report.given_up) == (2, 0)
    assert streams.backlog(redis_client, get_settings().stream("tests"), GROUP) == streams.Backlog(0, 0)


def test_failed_applies_do_not_count_but_consumers_dying_on_an_entry_still_trip_the_limit(
    redis_client: redis.Redis,
) -> None:
    entry_id, *_ = publish(redis_client, {"n": "poison"})
    for run in range(2 * streams.MAX_DELIVERIES):
        with pytest.raises(PostgresDown):
            consumer(redis_client, f"run-{run}", claim_idle_ms=0).run(refuse, nothing_to_give_up, ConsumerReport())
    for dead in range(streams.MAX_DELIVERIES):  # each takes the entry and dies before acknowledging it
        assert ids(consumer(redis_client, f"dead-{dead}", claim_idle_ms=0).next_batch()) == [entry_id]
    given_up: list[Entry] = []

    consumer(redis_client, "survivor", claim_idle_ms=0).run(refuse, given_up.extend, ConsumerReport())

    assert [(entry.id, entry.deliveries) for entry in given_up] == [(entry_id, streams.MAX_DELIVERIES + 1)]


def test_entries_given_up_on_are_acknowledged_even_when_applying_the_rest_fails(redis_client: redis.Redis) -> None:
    consumer(redis_client, "both").ensure_group()
    poison_id, *_ = publish(redis_client, {"n": "poison"})
    for dead in range(streams.MAX_DELIVERIES):
        consumer(redis_client, f"dead-{dead}", claim_idle_ms=0).next_batch()
    sound_id, *_ = publish(redis_client, {"n": "sound"})
    consumer(redis_client, "dead-too").next_batch()  # takes the sound entry and dies: both are reclaimed together
    given_up: list[Entry] = []

    with pytest.raises(PostgresDown):
        consumer(redis_client, "both", claim_idle_ms=0).run(refuse, given_up.extend, ConsumerReport())

    assert ids(given_up) == [poison_id]
    assert owners(redis_client) == {sound_id: "both"}, "only the entry not applied stays pending"


def test_a_run_that_ends_holding_nothing_leaves_the_group_and_one_holding_entries_stays(
    redis_client: redis.Redis,
) -> None:
    stream = get_settings().stream("tests")

    def consumers() -> set[str]:
        return {info["name"].decode() for info in redis_client.xinfo_consumers(stream, GROUP)}

    publish(redis_client, {"n": 1})
    consumer(redis_client, "drained").run(lambda _entries: None, nothing_to_give_up, ConsumerReport())
    assert consumers() == set()

    entry_id, *_ = publish(redis_client, {"n": 2})
    with pytest.raises(PostgresDown):
        consumer(redis_client, "failed").run(refuse, nothing_to_give_up, ConsumerReport())
    assert consumers() == {"failed"}
    assert owners(redis_client) == {entry_id: "failed"}
