"""Building blocks the pipeline tests share, and the pipeline trouble the status tests show (a failed run, launches
being tried again or given up on)."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import redis
from sqlalchemy import Engine

from engine import streams
from engine.campaigns.launch import due_campaigns, give_up_launch, record_launch_attempts
from engine.campaigns.lifecycle import CampaignDraft, create_campaign, schedule_campaign
from engine.features.catalog import base_catalog
from engine.ingest.records import empty_batch
from engine.settings import get_settings
from pipelines.defs.ingest.jobs import ingest_stream_job
from tests.engine.campaigns.helpers import EVERYONE

CODE_SERVER_GONE = "Detected run worker status NOT_FOUND: the code server no longer runs it"
TIMED_OUT = "the code server did not answer"


def publish_customers(client: redis.Redis, *external_ids: str) -> str:
    batch = empty_batch()
    batch["customers"] = [{"external_id": e, "city": "Agra", "ts": "2026-11-25T00:00:00+00:00"} for e in external_ids]
    return streams.publish(client, get_settings().stream("ingest"), batch)


def launches_in_trouble(db: Engine) -> tuple[int, int]:
    """Two campaigns: "Diwali", whose launch failed twice and is being tried again, and "Holi", given up on after
    five attempts; their ids."""
    ids = [create_campaign(db, CampaignDraft(name, "sms", "Hi!", audience_rule=EVERYONE), base_catalog())
           for name in ("Diwali", "Holi")]  # fmt: skip
    for campaign_id in ids:
        schedule_campaign(db, campaign_id)
    retrying, doomed = due_campaigns(db, datetime.now(UTC))
    record_launch_attempts(db, retrying, 2, TIMED_OUT)
    give_up_launch(db, doomed, 5, TIMED_OUT)
    return retrying.campaign_id, doomed.campaign_id


def fail_an_ingest_run() -> None:
    """An ingest run keyed `drain-3` that run monitoring failed, in the Dagster instance of DAGSTER_HOME."""
    with dg.DagsterInstance.get() as instance:
        run = instance.create_run_for_job(ingest_stream_job, status=dg.DagsterRunStatus.STARTED,
                                          tags={"dagster/run_key": "drain-3"})  # fmt: skip
        instance.report_run_failed(run, CODE_SERVER_GONE)
