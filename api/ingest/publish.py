"""Putting an accepted request's records on the ingest stream: one stream entry per request."""

from __future__ import annotations

from engine.connections import get_async_redis
from engine.ingest.records import Batch, batch_size
from engine.observability.metrics import INGEST_ACCEPTED
from engine.settings import get_settings
from engine.streams import entry_fields, entry_id_text


async def publish_batch(batch: Batch, encoded: bytes | None = None) -> str | None:
    """XADD the batch (nothing when it is empty), `encoded` as JSON already when the caller has it; the entry id once
    Redis has it."""
    if batch_size(batch) == 0:
        return None
    stream = get_settings().stream("ingest")
    fields = entry_fields(batch, encoded)
    entry_id = entry_id_text(await get_async_redis().xadd(stream, fields))  # type: ignore[arg-type]
    for kind, records in batch.items():
        INGEST_ACCEPTED.labels(kind).inc(len(records))  # type: ignore[arg-type]
    return entry_id
