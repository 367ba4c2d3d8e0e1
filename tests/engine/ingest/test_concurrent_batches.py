"""Two batches applied at the same moment (a consumer's appliers, several consumers) that share a new customer, a
message, or an anonymous visitor and their alias: one waits for the other's commit, and then applies what is left to it,
as if they had come one by one."""

from __future__ import annotations

import threading

import pytest
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


def apply_alongside_an_open_batch(db: Engine, first: list[EventRecord], second: list[EventRecord]) -> ApplyCounts:
    """Apply events `first` in an open transaction, then `second` in another, which waits for the first to commit."""
    counts: list[ApplyCounts] = []
    with db.connect() as conn:
        conn.begin()
        batch = events_batch()
        batch["events"] = first
        apply_batch(conn, batch)
        later = apply_in_background(db, second, counts)
        wait_until(lambda: waiting_on_a_lock(db), lambda: "the second batch did not wait for the first", timeout=20)
        conn.commit()
    later.join(timeout=30)
    assert not later.is_alive()
    [second_counts] = counts
    return second_counts


def test_two_batches_naming_the_same_new_customer_at_once_both_attach_their_events_to_them(database: Engine) -> None:
    apply_alongside_an_open_batch(database, [event(1)], [event(4)])  # both name c-1, whom the first inserts
    assert count(database, "SELECT count(*) FROM customers WHERE external_id = 'c-1'") == 1
    assert count(database, "SELECT count(*) FROM events e JOIN customers c ON c.id = e.customer_id") == 2


def test_a_message_two_batches_carry_at_once_is_stored_once_and_the_rest_of_the_later_batch_is_applied(
    database: Engine,
) -> None:
    with database.begin() as conn:
        apply_batch(conn, events_batch(6, 7, 8))  # customers c-0, c-1 and c-2 exist: only the message is shared
    counts = apply_alongside_an_open_batch(database, [event(1)], [event(1), event(2), event(5)])
    assert (counts.applied, counts.duplicates) == (2, 1)
    assert count(database, "SELECT count(*) FROM events WHERE message_id = 'm-1'") == 1
    assert count(database, "SELECT count(*) FROM events WHERE message_id IN ('m-2', 'm-5')") == 2


def visits(*numbers: int) -> list[EventRecord]:
    """Events of an anonymous visitor, before anyone knew who they were."""
    return [event(n, customer_external_id=None, anonymous_id="visitor-1") for n in numbers]


def alias(n: int) -> EventRecord:
    """The alias that tells the visitor was customer c-9 all along."""
    return event(n, type="alias", name=None, customer_external_id="c-9", properties={"previous_id": "visitor-1"})


def visits_of_c9(db: Engine) -> int:
    return count(db, "SELECT count(*) FROM events e JOIN customers c ON c.id = e.customer_id "
                     "WHERE c.external_id = 'c-9' AND e.type <> 'alias'")  # fmt: skip


def test_a_visitors_events_arriving_after_their_alias_go_to_the_customer_it_named(database: Engine) -> None:
    for events in ([alias(1)], visits(2, 3)):
        batch = events_batch()
        batch["events"] = events
        with database.begin() as conn:
            apply_batch(conn, batch)
    assert visits_of_c9(database) == 2


@pytest.mark.parametrize("alias_first", [True, False], ids=["alias first", "visits first"])
def test_an_alias_and_the_visitors_events_applied_at_once_end_attached_whichever_commits_first(
    database: Engine, alias_first: bool
) -> None:
    first, second = ([alias(1)], visits(2, 3)) if alias_first else (visits(2, 3), [alias(1)])
    apply_alongside_an_open_batch(database, first, second)
    assert visits_of_c9(database) == 2
