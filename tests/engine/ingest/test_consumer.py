"""The ingest consumer: a crash loses nothing, nothing is applied twice, refused records become dead letters."""

from __future__ import annotations

from typing import Any, cast

import redis
from sqlalchemy import Engine, text

from engine import streams
from engine.ingest import deadletters
from engine.ingest.consumer import GROUP, drain
from engine.ingest.records import Batch, EventRecord, empty_batch
from engine.settings import get_settings

NOW = "2026-11-25T10:00:00+00:00"


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
