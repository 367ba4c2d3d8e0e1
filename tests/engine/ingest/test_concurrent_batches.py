"""Two batches applied at the same moment (a consumer's appliers, several consumers) that share a new customer or a
message: each waits for the other's commit, and then applies what is left to it, as if they had come one by one."""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from engine.ingest.apply import ApplyCounts, apply_batch
from engine.ingest.records import EventRecord
from tests.api.vendor.loopback import wait_until
from tests.engine.ingest.test_consumer import count, event, events_batch, waiting_on_a_lock


def apply_in_background(db: Engine, events: list[EventRecord], counts: list[ApplyCounts]) -> threading.Thread:
    """Apply a batch of `events` in a transaction of its own, in a thread; its counts land in `counts`."""

    def apply() -> None:
        batch = events_batch()
        batch["events"] = events
        with db.begin() as conn:
            counts.append(apply_batch(conn, batch))

    thread = threading.Thread(target=apply)
    thread.start()
    return thread


def apply_alongside_an_open_batch(db: Engine, first: list[int], second: list[int]) -> ApplyCounts:
    """Apply events `first` in an open transaction, then `second` in another, which waits for the first to commit."""
    counts: list[ApplyCounts] = []
    with db.connect() as conn:
        conn.begin()
        apply_batch(conn, events_batch(*first))
        later = apply_in_background(db, [event(n) for n in second], counts)
        wait_until(lambda: waiting_on_a_lock(db), lambda: "the second batch did not wait for the first", timeout=20)
        conn.commit()
    later.join(timeout=30)
    assert not later.is_alive()
    [second_counts] = counts
    return second_counts


def test_two_batches_naming_the_same_new_customer_at_once_both_attach_their_events_to_them(database: Engine) -> None:
    apply_alongside_an_open_batch(database, [1], [4])  # both name c-1, whom the first inserts
    assert count(database, "SELECT count(*) FROM customers WHERE external_id = 'c-1'") == 1
    assert count(database, "SELECT count(*) FROM events e JOIN customers c ON c.id = e.customer_id") == 2


def test_a_message_two_batches_carry_at_once_is_stored_once_and_the_rest_of_the_later_batch_is_applied(
    database: Engine,
) -> None:
    with database.begin() as conn:
        apply_batch(conn, events_batch(6, 7, 8))  # customers c-0, c-1 and c-2 exist: only the message is shared
    counts = apply_alongside_an_open_batch(database, [1], [1, 2, 5])
    assert (counts.applied, counts.duplicates) == (2, 1)
    assert count(database, "SELECT count(*) FROM events WHERE message_id = 'm-1'") == 1
    assert count(database, "SELECT count(*) FROM events WHERE message_id IN ('m-2', 'm-5')") == 2
