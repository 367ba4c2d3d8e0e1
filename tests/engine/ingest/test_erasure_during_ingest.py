"""An erasure and a batch naming the same customer, at once: no event is left naming a customer who is gone.

Events hold no foreign key to customers (migration 0019); the ingest transaction locks the customers it names
instead, which is what these tests hold it to.
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine, text

from engine.ingest.apply import apply_batch
from engine.ingest.records import EventRecord
from engine.privacy.erase import erase_customer
from tests.api.vendor.loopback import wait_until
from tests.engine.ingest.test_consumer import count, event, events_batch, waiting_on_a_lock


def orphan_events(db: Engine) -> int:
    return count(
        db,
        "SELECT count(*) FROM events e LEFT JOIN customers c ON c.id = e.customer_id "
        "WHERE e.customer_id IS NOT NULL AND c.id IS NULL",
    )


def customer_id(db: Engine, external_id: str) -> int:
    return count(db, f"SELECT id FROM customers WHERE external_id = '{external_id}'")


def test_an_erasure_waits_for_a_batch_naming_the_customer_and_then_removes_its_events(database: Engine) -> None:
    with database.begin() as conn:
        apply_batch(conn, events_batch(1))  # customer c-1 and one event
    erased = customer_id(database, "c-1")
    erasure = threading.Thread(target=erase_customer, args=(database, erased, "test"))
    with database.connect() as ingest:
        ingest.begin()
        later = events_batch(4, 7)  # both name c-1
        apply_batch(ingest, later)
        erasure.start()
        wait_until(lambda: waiting_on_a_lock(database), lambda: "the erasure did not wait for the batch", timeout=20)
        ingest.commit()
    erasure.join(timeout=30)
    assert not erasure.is_alive()
    assert count(database, f"SELECT count(*) FROM events WHERE customer_id = {erased}") == 0
    assert count(database, "SELECT count(*) FROM customers WHERE external_id = 'c-1'") == 0
    assert orphan_events(database) == 0


def test_a_batch_naming_a_customer_being_erased_waits_and_then_names_them_anew(database: Engine) -> None:
    with database.begin() as conn:
        apply_batch(conn, events_batch(1))
    erased = customer_id(database, "c-1")
    with database.connect() as eraser:
        eraser.begin()
        eraser.execute(text("SELECT 1 FROM customers WHERE id = :id FOR UPDATE"), {"id": erased})
        batch = threading.Thread(target=lambda: _apply_committed(database, [event(10)]))
        batch.start()
        wait_until(lambda: waiting_on_a_lock(database), lambda: "the batch did not wait for the erasure", timeout=20)
        eraser.execute(text("DELETE FROM events WHERE customer_id = :id"), {"id": erased})
        eraser.execute(text("DELETE FROM customers WHERE id = :id"), {"id": erased})
        eraser.commit()
    batch.join(timeout=30)
    assert not batch.is_alive()
    assert orphan_events(database) == 0
    assert count(database, "SELECT count(*) FROM events WHERE message_id = 'm-10' AND customer_id IS NOT NULL") == 1
    assert customer_id(database, "c-1") != erased


def _apply_committed(db: Engine, events: list[EventRecord]) -> None:
    batch = events_batch()
    batch["events"] = events
    with db.begin() as conn:
        apply_batch(conn, batch)
