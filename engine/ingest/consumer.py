"""Draining the ingest stream into Postgres: read with a consumer group, commit, then acknowledge.

Entries are applied many at a time in one transaction and acknowledged only after it commits, so a
consumer that dies at any point loses nothing: its unacknowledged entries are reclaimed by the next one
(XAUTOCLAIM) and applied again, which changes nothing that was already applied. While a batch is applied,
its entries are kept claimed (`StreamConsumer.keep_alive`), so a slow batch is never taken over by another
consumer that would then wait on its row locks.

When Postgres refuses a batch's data, it is split in halves (by entry, then by record within one entry), each
half tried under its own savepoint, recursively: the good records commit after O(k log n) attempts for k bad
ones, and each record Postgres still refuses on its own goes to the dead letters with its error. Other errors
(Postgres down, a deadlock, a lock timeout) are no record's fault: the whole batch is tried again later. An entry
delivered more than `streams.MAX_DELIVERIES` times (its consumers kept dying on it) is dead-lettered whole.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, fields, replace
from typing import Self

import orjson
import psycopg
import redis
from sqlalchemy import Connection, Engine

from engine import streams
from engine.features.freshness import count_source_change
from engine.ingest import deadletters
from engine.ingest.apply import ApplyCounts, apply_batch
from engine.ingest.records import Batch, empty_batch
from engine.observability.metrics import INGEST_APPLIED
from engine.settings import Settings
from engine.streams import ConsumerReport, Entry, StreamConsumer

GROUP = "appliers"
# What a record can be to blame for: Postgres refusing its data (SQLSTATE class 22, data exception, which psycopg
# also raises for what it cannot send, such as a NUL byte) or a constraint (class 23), and what the record mapping
# raises on a malformed one. Anything else (the server gone, a deadlock, a lock timeout, a cancelled query) is no
# record's fault: it is raised, and the whole batch is tried again later.
RECORD_ERRORS = (psycopg.DataError, psycopg.IntegrityError, KeyError, TypeError, ValueError)


@dataclass
class DrainReport(ApplyCounts, ConsumerReport):
    """What one drain did: stream entries handled, and the records applied, duplicated, dead-lettered."""

    def __iadd__(self, other: ApplyCounts) -> Self:
        """Add up every count `other` has (a drain's, or one apply's); `stopped` takes the most telling reason."""
        for counted in fields(other):
            if isinstance(value := getattr(other, counted.name), int):
                setattr(self, counted.name, getattr(self, counted.name) + value)
        if isinstance(other, DrainReport):
            self.stopped = max(self.stopped, other.stopped, key=STOP_REASONS.index)
        return self


STOP_REASONS = ("", "drained", "max_batches", "max_seconds")  # of several appliers' drains, the last one named


@dataclass(frozen=True)
class Part:
    """Records of one stream entry (all of them, or a part while a refused batch is split)."""

    entry_id: str
    batch: Batch

    def records(self) -> list[tuple[str, object]]:
        return [(table, record) for table in deadletters.TABLES for record in self.batch[table]]  # type: ignore[literal-required]


def _entry_batch(entry: Entry) -> Batch:
    if entry.error:
        raise ValueError(entry.error)
    payload = entry.payload
    if not isinstance(payload, dict) or not all(isinstance(payload.get(t), list) for t in deadletters.TABLES):
        raise ValueError("a stream entry must hold lists of customers, orders and events")
    return payload  # type: ignore[return-value]


def _merge(batches: list[Batch]) -> Batch:
    merged = empty_batch()
    for batch in batches:
        for table in deadletters.TABLES:
            merged[table].extend(batch[table])  # type: ignore[literal-required]
    return merged


def _batch_of(records: list[tuple[str, object]]) -> Batch:
    batch = empty_batch()
    for table, record in records:
        batch[table].append(record)  # type: ignore[literal-required]
    return batch


def _halves(parts: list[Part]) -> tuple[list[Part], list[Part]] | None:
    """Two halves of `parts`: by entry while there are several, else by record; None for a single record."""
    if len(parts) > 1:
        middle = len(parts) // 2
        return parts[:middle], parts[middle:]
    [part] = parts
    records = part.records()
    if len(records) < 2:
        return None
    middle = len(records) // 2
    return [Part(part.entry_id, _batch_of(records[:middle]))], [Part(part.entry_id, _batch_of(records[middle:]))]


def _describe(error: Exception) -> str:
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {message}"


def _apply_splitting(conn: Connection, parts: list[Part]) -> ApplyCounts:
    """Apply `parts` under one savepoint; if Postgres refuses them, each half under its own, recursively,
    down to the single records it refuses, which are dead-lettered."""
    try:
        with conn.begin_nested():
            return apply_batch(conn, _merge([part.batch for part in parts]))
    except RECORD_ERRORS as error:
        halves = _halves(parts)
        if halves is None:
            [part] = parts
            [(table, record)] = part.records()
            deadletters.record(conn, part.entry_id, table, orjson.dumps(record).decode(), _describe(error))
            return ApplyCounts(dead_lettered=1)
        counts = ApplyCounts()
        for half in halves:
            counts += _apply_splitting(conn, half)
        return counts


def apply_entries(db: Engine, entries: list[Entry]) -> ApplyCounts:
    """Apply stream entries in one transaction (splitting what Postgres refuses) and commit."""
    counts = ApplyCounts()
    with db.begin() as conn:
        parts: list[Part] = []
        for entry in entries:
            try:
                parts.append(Part(entry.id, _entry_batch(entry)))
            except ValueError as error:
                deadletters.record(conn, entry.id, "entry", entry.raw.decode(errors="replace"), str(error))
                counts.dead_lettered += 1
        if parts:
            counts += _apply_splitting(conn, parts)
        if counts.applied:
            count_source_change(conn)  # last: it locks one row until the commit
    _count(counts)
    return counts


def _count(counts: ApplyCounts) -> None:
    """Count committed records in the process's metrics."""
    INGEST_APPLIED.labels("applied").inc(counts.applied)
    INGEST_APPLIED.labels("duplicate").inc(counts.duplicates)
    INGEST_APPLIED.labels("dead_lettered").inc(counts.dead_lettered)


def dead_letter_poison(db: Engine, entries: list[Entry]) -> ApplyCounts:
    """Dead-letter entries consumers kept dying on, record by record (each replayable on its own), unapplied."""
    counts = ApplyCounts()
    with db.begin() as conn:
        for entry in entries:
            error = f"entry was delivered {entry.deliveries - 1} times without being applied"
            try:
                records = Part(entry.id, _entry_batch(entry)).records()
            except ValueError:
                deadletters.record(conn, entry.id, "entry", entry.raw.decode(errors="replace"), error)
                counts.dead_lettered += 1
                continue
            for table, record in records:
                deadletters.record(conn, entry.id, table, orjson.dumps(record).decode(), error)
            counts.dead_lettered += len(records)
    _count(counts)
    return counts


def consumer_of(client: redis.Redis, settings: Settings, consumer: str | None = None) -> StreamConsumer:
    """This process's consumer of the ingest stream."""
    return StreamConsumer(
        client, settings.stream("ingest"), GROUP, consumer or streams.default_consumer_name(),
        settings.ingest_claim_idle_ms, settings.ingest_batch_size,
    )  # fmt: skip


def drain(
    db: Engine,
    client: redis.Redis,
    settings: Settings,
    consumer: str | None = None,
    max_batches: int | None = None,
    block_ms: int | None = None,
    on_batch: Callable[[DrainReport], None] | None = None,
    max_seconds: float | None = None,
    appliers: int = 1,
) -> DrainReport:
    """Apply entries until the stream is empty (or `max_batches` were applied, or `max_seconds` passed);
    returns what was done.

    Reclaims entries idle for longer than `settings.ingest_claim_idle_ms` before reading new ones. With several
    `appliers`, each applies batches of its own at the same time (consumers `<consumer>-1`, `-2`, ...) while there is
    a backlog (`Backlog`), so Postgres writes one batch while the next is decoded and staged; `max_batches` bounds
    each, and `on_batch` sees their sum.
    """
    if appliers > 1:
        backlog = Backlog(settings.ingest_batch_size)
        return _drain_in_parallel(
            appliers, consumer or streams.default_consumer_name(), on_batch,
            lambda index, name, seen: _drain_as_applier(
                db, client, settings, name, max_batches, block_ms, seen, max_seconds, backlog, first=index == 0
            ),
        )  # fmt: skip
    return _drain_as_applier(db, client, settings, consumer, max_batches, block_ms, on_batch, max_seconds)


class Backlog:
    """When the extra appliers of a drain read: only while reads come back full (more waits than one applier takes
    at once), or while the first applier has been on one batch for longer than `STUCK_S` (waiting on a lock, say).
    A following consumer that keeps up then applies what arrives with one applier, in batches twice as large as
    two would take, which costs Postgres and the consumer less per event, and all of them apply a backlog."""

    STUCK_S = 1.0
    WAIT_S = 0.25

    def __init__(self, batch_size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.batch_size = batch_size
        self.clock = clock
        self.full = threading.Event()
        self.first_finished = threading.Event()
        self.first_busy_since: float | None = None

    def read(self, entries: list[Entry]) -> None:
        """An applier read `entries`."""
        if len(entries) >= self.batch_size:
            self.full.set()
        else:
            self.full.clear()

    @contextmanager
    def applying(self, entries: list[Entry], first: bool) -> Iterator[None]:
        """An applier applies `entries` it read; the first applier's time on them tells when it is held up."""
        self.read(entries)
        if first:
            self.first_busy_since = self.clock()
        try:
            yield
        finally:
            if first:
                self.first_busy_since = None

    def ready(self) -> bool:
        """Whether an extra applier should read now; waits until it should, or until the first applier is done."""
        while not self.first_finished.is_set():
            since = self.first_busy_since
            if self.full.is_set() or (since is not None and self.clock() - since > self.STUCK_S):
                return True
            self.full.wait(self.WAIT_S)
        return False


def _drain_as_applier(
    db: Engine,
    client: redis.Redis,
    settings: Settings,
    consumer: str | None,
    max_batches: int | None,
    block_ms: int | None,
    on_batch: Callable[[DrainReport], None] | None,
    max_seconds: float | None,
    backlog: Backlog | None = None,
    first: bool = True,
) -> DrainReport:
    """One applier's drain (see `drain`); with a `backlog`, the first applier's or an extra one's."""
    report = DrainReport()

    def apply(entries: list[Entry]) -> None:
        nonlocal report
        with backlog.applying(entries, first) if backlog is not None else nullcontext():
            report += apply_entries(db, entries)

    def give_up(entries: list[Entry]) -> None:
        nonlocal report
        report += dead_letter_poison(db, entries)

    ready = backlog.ready if backlog is not None and not first else None
    try:
        return consumer_of(client, settings, consumer).run(
            apply, give_up, report, max_batches=max_batches, max_seconds=max_seconds, block_ms=block_ms,
            on_batch=on_batch, ready=ready,
        )  # fmt: skip
    finally:
        if backlog is not None and first:
            backlog.first_finished.set()


def _drain_in_parallel(
    appliers: int,
    consumer: str,
    on_batch: Callable[[DrainReport], None] | None,
    drain_as: Callable[[int, str, Callable[[DrainReport], None]], DrainReport],
) -> DrainReport:
    """Run `drain_as` in `appliers` threads, each as its own consumer; their reports added up. If one raises, the
    others finish their drains and the first error is raised."""
    progress = [DrainReport() for _ in range(appliers)]
    results: list[DrainReport | BaseException] = [DrainReport()] * appliers
    seen = threading.Lock()
    contexts = [contextvars.copy_context() for _ in range(appliers)]  # the caller's log fields and trace, in each

    def report_batch(index: int, report: DrainReport) -> None:
        with seen:
            progress[index] = replace(report)
            if on_batch:
                on_batch(added_up(progress))

    def run(index: int) -> None:
        try:
            name = f"{consumer}-{index + 1}"
            results[index] = contexts[index].run(drain_as, index, name, lambda report: report_batch(index, report))
        except BaseException as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,), name=f"applier {index + 1}") for index in range(appliers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors := [result for result in results if isinstance(result, BaseException)]:
        raise errors[0]
    return added_up(result for result in results if isinstance(result, DrainReport))


def added_up(reports: Iterable[DrainReport]) -> DrainReport:
    """One report of several drains."""
    total = DrainReport()
    for report in reports:
        total += report
    return total
