"""The one stream-consumer loop: a slow apply keeps its entries claimed, a dead consumer's entries are
reclaimed, a poison entry is given up on, and a run stops at its bounds with a report of what it did."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import count
from typing import Any

import pytest
import redis

from engine import streams
from engine.settings import get_settings
from engine.streams import ConsumerReport, Entry, StreamConsumer
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


class Killed(Exception):
    """The consumer's process died."""


@contextmanager
def running_until_killed(worker: StreamConsumer) -> Iterator[threading.Event]:
    """`worker` runs its loop in a thread, its apply blocked until the yielded event is set; then it dies in the
    middle of the apply (raises), leaving its batch unacknowledged, as a killed process would."""
    kill = threading.Event()

    def apply(_entries: list[Entry]) -> None:
        kill.wait(60)
        raise Killed

    def live() -> None:
        with contextlib.suppress(Killed):
            worker.run(apply, nothing_to_give_up, ConsumerReport())

    thread = threading.Thread(target=live)
    thread.start()
    try:
        yield kill
    finally:
        kill.set()
        thread.join()


def first_batch_taken(worker: StreamConsumer, timeout: float = 10) -> list[Entry]:
    """The first entries `worker` takes (reclaims or reads) within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (batch := worker.next_batch()):
        if time.monotonic() > deadline:
            pytest.fail(f"{worker.name} took nothing within {timeout} s; pending: {owners(worker.client)}")
        time.sleep(0.05)
    return batch


def test_a_slow_apply_keeps_its_entries_from_other_consumers_until_its_consumer_dies(redis_client: redis.Redis) -> None:
    first, second = consumer(redis_client, "first"), consumer(redis_client, "second")
    first.ensure_group()
    entry_ids = publish(redis_client, {"n": 1}, {"n": 2})

    with running_until_killed(first) as kill:
        wait_until(lambda: owners(redis_client) == dict.fromkeys(entry_ids, "first"), lambda: owners(redis_client))
        taken_meanwhile: list[Entry] = []
        several_idle_periods = time.monotonic() + 3.5 * first.claim_idle_ms / 1000
        while time.monotonic() < several_idle_periods:
            taken_meanwhile += second.next_batch()
        kill.set()

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


def test_a_failed_apply_leaves_its_batch_pending_for_the_next_consumer(redis_client: redis.Redis) -> None:
    consumer(redis_client, "next").ensure_group()
    entry_ids = publish(redis_client, {"n": 1})

    def refuse(_entries: list[Entry]) -> None:
        raise ConnectionError("Postgres went away")

    with pytest.raises(ConnectionError):
        consumer(redis_client, "unlucky").run(refuse, nothing_to_give_up, ConsumerReport())
    applied: list[Entry] = []
    report = consumer(redis_client, "next", claim_idle_ms=0).run(applied.extend, nothing_to_give_up, ConsumerReport())

    assert [entry.id for entry in applied] == entry_ids
    assert report.reclaimed == 1
