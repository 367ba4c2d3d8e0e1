"""Building blocks the pipeline tests share."""

from __future__ import annotations

import redis

from engine import streams
from engine.ingest.records import empty_batch
from engine.settings import get_settings


def publish_customers(client: redis.Redis, *external_ids: str) -> str:
    batch = empty_batch()
    batch["customers"] = [{"external_id": e, "city": "Agra", "ts": "2026-11-25T00:00:00+00:00"} for e in external_ids]
    return streams.publish(client, get_settings().stream("ingest"), batch)
