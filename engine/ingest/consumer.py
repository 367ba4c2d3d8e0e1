"""Draining the ingest stream into Postgres: read with a consumer group, commit, then acknowledge.

Entries are applied many at a time in one transaction and acknowledged only after it commits, so a
consumer that dies at any point loses nothing: its unacknowledged entries are reclaimed by the next one
(XAUTOCLAIM) and applied again, which changes nothing that was already applied. When Postgres refuses a
batch, the entries are retried one record at a time, and each record it still refuses goes to the dead
letters with its error.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

import orjson
import psycopg
import redis
from sqlalchemy import Connection, Engine

from engine import streams
from engine.ingest import deadletters
from engine.ingest.apply import ApplyCounts, apply_batch
from engine.ingest.records import Batch, empty_batch
from engine.settings import Settings
from engine.streams import Entry

GROUP = "appliers"
# What a malformed record makes the apply code raise, besides Postgres refusing it.
RECORD_ERRORS = (psycopg.Error, KeyError, TypeError, ValueError)


@dataclass
class DrainReport(ApplyCounts):
    """What one drain did: stream entries handled, and the records applied, duplicated, dead-lettered."""

    entries: int = 0
    reclaimed: int = 0
    batches: int = 0


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _entry_batch(entry: Entry) -> Batch:
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


def _apply_record_by_record(conn: Connection, entry_id: str, batch: Batch) -> ApplyCounts:
    """Apply each record under its own savepoint; dead-letter the ones Postgres refuses."""
    counts = ApplyCounts()
    for table in deadletters.TABLES:
        for record in batch[table]:  # type: ignore[literal-required]
            single = empty_batch()
            single[table].append(record)  # type: ignore[literal-required]
            try:
                with conn.begin_nested():
                    counts += apply_batch(conn, single)
            except RECORD_ERRORS as error:
                deadletters.record(conn, entry_id, table, orjson.dumps(record).decode(), _describe(error))
                counts.dead_lettered += 1
    return counts


def _describe(error: Exception) -> str:
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {message}"


def apply_entries(db: Engine, entries: list[Entry]) -> ApplyCounts:
    """Apply stream entries in one transaction (falling back to record by record) and commit."""
    decoded: list[tuple[Entry, Batch]] = []
    with db.begin() as conn:
        counts = ApplyCounts()
        for entry in entries:
            try:
                if entry.error:
                    raise ValueError(entry.error)
                decoded.append((entry, _entry_batch(entry)))
            except ValueError as error:
                deadletters.record(conn, entry.id, "entry", entry.raw.decode(errors="replace"), str(error))
                counts.dead_lettered += 1
        try:
            with conn.begin_nested():
                counts += apply_batch(conn, _merge([batch for _, batch in decoded]))
        except RECORD_ERRORS:
            for entry, batch in decoded:
                counts += _apply_record_by_record(conn, entry.id, batch)
    return counts


def drain(
    db: Engine,
    client: redis.Redis,
    settings: Settings,
    consumer: str | None = None,
    max_batches: int | None = None,
    block_ms: int | None = None,
    on_batch: Callable[[DrainReport], None] | None = None,
) -> DrainReport:
    """Apply entries until the stream is empty (or `max_batches` were applied); returns what was done.

    Reclaims entries idle for longer than `settings.ingest_claim_idle_ms` before reading new ones.
    """
    stream = settings.stream("ingest")
    name = consumer or default_consumer_name()
    streams.ensure_group(client, stream, GROUP)
    report = DrainReport()
    while max_batches is None or report.batches < max_batches:
        entries = streams.reclaim(
            client, stream, GROUP, name, settings.ingest_claim_idle_ms, settings.ingest_batch_size
        )
        report.reclaimed += len(entries)
        if not entries:
            entries = streams.read(client, stream, GROUP, name, settings.ingest_batch_size, block_ms)
        if not entries:
            break
        report += apply_entries(db, entries)
        streams.ack(client, stream, GROUP, [entry.id for entry in entries])
        report.entries += len(entries)
        report.batches += 1
        if on_batch:
            on_batch(report)
    return report
