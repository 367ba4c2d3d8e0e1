"""Launching a campaign: freeze its rule and audience, log every recipient, and queue the messages.

In one transaction: the rule is evaluated once on one feature snapshot (the rule and the snapshot's
version are stored with the campaign), the contact policy decides each recipient's fate, the messages
are rendered, and one communication-log row per recipient is written with COPY; the campaign becomes
`sending`. Who a launched campaign goes to is then fixed: later changes to the segment or to customers
do not touch its log. The rows' ids are reserved up front, so once committed the queued messages are
published to the delivery stream from memory (`queue.publish_queued`); a relaunch resumes publishing
from the log, so running a launch twice, or again after a crash, sends nothing twice.

A "retry the failed" campaign (one with a parent) goes to the parent's failed recipients instead of a
rule, through the same policy and rendering; a message the vendor may already have keeps its parent's idempotency
key (`audience.retried_messages`), so it is not sent twice.
"""

from __future__ import annotations

import io
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import polars as pl
import redis
from sqlalchemy import Connection, Engine, RowMapping, bindparam, text

from engine.auth import audit
from engine.campaigns.audience import AudienceSource, CampaignAudience, Recipients, campaign_recipients
from engine.campaigns.errors import CampaignNotFound
from engine.campaigns.queue import Message, Published, idempotency_key_prefix, publish_queued
from engine.campaigns.reach import contact_plan
from engine.campaigns.templates import (
    RENDERED,
    CampaignTemplates,
    MessageTemplate,
    TemplateError,
    check_campaign_templates,
)
from engine.channels import Channel, get_channel
from engine.connections import psycopg_connection
from engine.consent.opt_out import with_opt_out
from engine.features.catalog import catalog_for_schema
from engine.observability.logs import log_context
from engine.segments import RuleError, UnsupportedRule
from engine.segments.polars_backend import PolarsEvaluator
from engine.settings import Settings

log = logging.getLogger(__name__)
LOG_COLUMNS = (
    "id", "campaign_id", "customer_id", "channel", "address", "message", "subject", "html", "status", "reason",
    "idempotency_key", "not_before", "created_at", "queued_at",
)  # fmt: skip
MESSAGE_COLUMNS = ("id", "idempotency_key", "address", "message", "subject", "customer_id", "html")  # a `queue.Message`
# What makes a launch fail for good (the campaign becomes `failed` with the reason), rather than be retried.
LAUNCH_REFUSALS = (RuleError, UnsupportedRule, TemplateError, LookupError)
# A launched campaign in these states has its queued messages published by the launch (a paused one's are held
# back by the senders, and queued again when it resumes).
PUBLISHING = ("sending", "paused")


@dataclass
class LaunchReport:
    """What a launch did; `status` is the campaign's status afterwards."""

    campaign_id: int
    status: str
    audience: int = 0
    queued: int = 0
    deferred: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    published: Published = field(default_factory=lambda: Published(0, 0))
    detail: str | None = None


def launch_campaign(
    db: Engine,
    client: redis.Redis,
    settings: Settings,
    campaign_id: int,
    audience: AudienceSource,
    *,
    now: datetime | None = None,
) -> LaunchReport:
    """Launch a due scheduled campaign, or finish publishing one already sending (or paused); anything else is left
    alone.

    A rule, template or segment that cannot be used makes the campaign `failed` with the reason. The launch's log
    lines carry the campaign's id.
    """
    with log_context(campaign_id=campaign_id):
        report = _launch(db, client, settings, campaign_id, audience, now or datetime.now(UTC))
        if report.status == "failed" and report.detail is not None:
            log.warning("the launch failed for good: %s", report.detail)
        elif report.status in PUBLISHING:
            log.info("launch done (%s): audience %d, queued %d, deferred %d, skipped %s; %d messages published",
                     report.status, report.audience, report.queued, report.deferred, report.skipped or "none",
                     report.published.messages)  # fmt: skip
    return report


def _launch(
    db: Engine, client: redis.Redis, settings: Settings, campaign_id: int, audience: AudienceSource, moment: datetime
) -> LaunchReport:
    try:
        with db.begin() as conn:
            campaign = conn.execute(
                text("SELECT * FROM campaigns WHERE id = :id FOR UPDATE"), {"id": campaign_id}
            ).mappings().one_or_none()  # fmt: skip
            if campaign is None:
                raise CampaignNotFound(campaign_id)
            report = LaunchReport(campaign_id, campaign["status"])
            queued: list[Message] | None = None
            if campaign["status"] == "scheduled" and campaign["scheduled_at"] <= moment:
                report, queued = _freeze_and_log(conn, campaign, audience, settings, moment)
    except CampaignNotFound:
        raise
    except LAUNCH_REFUSALS as error:
        _mark_failed(db, campaign_id, str(error))
        return LaunchReport(campaign_id, "failed", detail=str(error))
    if report.status in PUBLISHING:
        report.published = publish_queued(db, client, settings, campaign_id, queued)
        _mark_published(db, campaign_id)
    return report


def _mark_published(db: Engine, campaign_id: int) -> None:
    """The launch is over: every queued message is on the delivery stream (held back by senders while paused)."""
    with db.begin() as conn:
        conn.execute(
            text("UPDATE campaigns SET published_at = now() WHERE id = :id AND published_at IS NULL"),
            {"id": campaign_id},
        )


def _mark_failed(db: Engine, campaign_id: int, reason: str) -> None:
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE campaigns SET status = 'failed', failure_reason = :reason, completed_at = now(), "
                "updated_at = now() WHERE id = :id AND status = 'scheduled'"
            ),
            {"id": campaign_id, "reason": reason},
        )


def _reserve_ids(conn: Connection, count: int) -> pl.Series:
    """`count` new log ids, ascending, so the launch knows each row's id without reading the rows back."""
    sequence = conn.execute(text("SELECT pg_get_serial_sequence('communication_log', 'id')")).scalar_one()
    ids = conn.execute(
        text("SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :count)"),
        {"sequence": sequence, "count": count},
    ).scalars()
    return pl.Series("id", list(ids), dtype=pl.Int64)


def _freeze_and_log(
    conn: Connection, campaign: RowMapping, audience: AudienceSource, settings: Settings, now: datetime
) -> tuple[LaunchReport, list[Message]]:
    """Write the log; the report, and the queued messages in log-id order."""
    snapshot = audience.snapshot()
    catalog = catalog_for_schema(snapshot.features.schema)
    templates = check_campaign_templates(campaign["template"], campaign["subject"], campaign["html_template"], catalog)
    evaluator = PolarsEvaluator(snapshot.features, snapshot.events, now=snapshot.taken_at or now)
    recipients = campaign_recipients(
        conn,
        CampaignAudience(campaign["parent_campaign_id"], campaign["audience_rule"], campaign["segment_id"]),
        evaluator,
        audience.segment_rule,
    )
    channel = get_channel(campaign["channel"])
    plan = contact_plan(
        conn, recipients.members, channel, settings, now, topic=campaign["topic"], excluding_campaign=campaign["id"]
    )
    log = _log_rows(campaign["id"], channel, recipients, plan, templates, settings, now)
    log = log.with_columns(_reserve_ids(conn, log.height)).select(LOG_COLUMNS)
    _copy_log(conn, log)
    conn.execute(
        text(
            "UPDATE campaigns SET status = 'sending', launched_at = :now, frozen_rule = CAST(:rule AS jsonb), "
            "snapshot_version = :version, audience_size = :size, updated_at = now() WHERE id = :id"
        ),
        {
            "now": now,
            "rule": orjson.dumps(recipients.rule).decode(),
            "version": snapshot.version,
            "size": recipients.members.height,
            "id": campaign["id"],
        },
    )
    statuses = Counter(log["status"].to_list())
    reasons = log.filter(pl.col("status") == "skipped")["reason"].value_counts()
    report = LaunchReport(
        campaign["id"],
        "sending",
        audience=recipients.members.height,
        queued=statuses["queued"],
        deferred=statuses["pending"],
        skipped=dict(zip(reasons["reason"].to_list(), reasons["count"].to_list(), strict=True)),
    )
    queued = log.filter(pl.col("status") == "queued").sort("id").select(MESSAGE_COLUMNS)
    return report, list(zip(*(queued[name].to_list() for name in MESSAGE_COLUMNS), strict=True))


def _rendered(template: MessageTemplate | None, members: pl.DataFrame) -> pl.DataFrame:
    if template is None:
        return pl.DataFrame({"message": [None] * members.height, "render_error": [None] * members.height},
                            schema=RENDERED)  # fmt: skip
    return template.render_frame(members)


def _too_long(channel: Channel, messages: pl.Series) -> pl.Series:
    """Why each rendered message is too long for the channel (null where it fits). A channel counts at most two
    characters for one (SMS's GSM extension characters), so only messages past half its limit are measured."""
    reasons: list[str | None] = [None] * len(messages)
    if channel.max_length is not None:
        for index in (messages.str.len_chars() > channel.max_length // 2).arg_true():
            reasons[index] = channel.too_long(messages[index])
    return pl.Series("too_long", reasons, dtype=pl.String)


def _log_rows(
    campaign_id: int,
    channel: Channel,
    recipients: Recipients,
    plan: pl.DataFrame,
    templates: CampaignTemplates,
    settings: Settings,
    now: datetime,
) -> pl.DataFrame:
    """The communication-log rows of the recipients, in `LOG_COLUMNS` order but for their ids, rendered from the
    campaign's `templates` (message, subject, HTML). Each message's idempotency key is the one it keeps from the
    parent campaign, if any, else this campaign's own."""
    message = _rendered(templates.message, recipients.members)
    message = message.with_columns(with_opt_out(message["message"], channel.opt_out))
    title = _rendered(templates.subject, recipients.members).rename(
        {"message": "subject", "render_error": "subject_error"}
    )
    markup = _rendered(templates.html, recipients.members).rename({"message": "html", "render_error": "html_error"})
    kept = recipients.kept_keys.rename({"idempotency_key": "kept_key"})
    too_long = _too_long(channel, message["message"])
    frame = pl.concat([plan, message, title, markup, too_long.to_frame()], how="horizontal").join(
        kept, on="customer_id", how="left", maintain_order="left"
    )
    render_error = pl.coalesce("render_error", "subject_error", "html_error", "too_long")
    skipped = (pl.col("status") == "skipped") | render_error.is_not_null()
    prefix = idempotency_key_prefix(settings, campaign_id)
    return frame.select(
        pl.lit(campaign_id, pl.Int64).alias("campaign_id"),
        "customer_id",
        pl.lit(channel.name).alias("channel"),
        "address",
        pl.when(skipped).then(None).otherwise(pl.col("message")).alias("message"),
        pl.when(skipped).then(None).otherwise(pl.col("subject")).alias("subject"),
        pl.when(skipped).then(None).otherwise(pl.col("html")).alias("html"),
        pl.when(skipped).then(pl.lit("skipped")).otherwise(pl.col("status")).alias("status"),
        pl.coalesce("reason", render_error).alias("reason"),
        pl.coalesce("kept_key", pl.lit(prefix) + pl.col("customer_id").cast(pl.String)).alias("idempotency_key"),
        pl.when(skipped).then(None).otherwise(pl.col("not_before")).alias("not_before"),
        pl.lit(now).dt.convert_time_zone("UTC").alias("created_at"),
        pl.when(~skipped & (pl.col("status") == "queued")).then(pl.lit(now)).dt.convert_time_zone("UTC")
        .alias("queued_at"),
    )  # fmt: skip


def _copy_log(conn: Connection, log: pl.DataFrame) -> None:
    buffer = io.BytesIO()
    log.write_csv(buffer, include_header=False)
    sql = f"COPY communication_log ({', '.join(LOG_COLUMNS)}) FROM STDIN WITH (FORMAT csv)"
    with psycopg_connection(conn).cursor() as cursor, cursor.copy(sql) as copy:
        copy.write(buffer.getbuffer())


@dataclass(frozen=True)
class DueLaunch:
    """A campaign whose launch is due: scheduled and its time has come, or launched but not yet fully published
    (its launch run died half-way). `schedule_seq` tells its schedulings apart, each with launch runs of its own."""

    campaign_id: int
    schedule_seq: int
    status: str
    launch_attempts: int


DUE = """
SELECT id, schedule_seq, status, launch_attempts FROM campaigns
WHERE (status = 'scheduled' AND scheduled_at <= :now) OR (status IN :publishing AND published_at IS NULL)
ORDER BY scheduled_at, id
"""


def due_campaigns(db: Engine, now: datetime) -> list[DueLaunch]:
    """Campaigns whose launch is due or unfinished, oldest schedule first."""
    with db.connect() as conn:
        rows = conn.execute(text(DUE).bindparams(bindparam("publishing", expanding=True)),
                            {"now": now, "publishing": list(PUBLISHING)})  # fmt: skip
        return [DueLaunch(*row) for row in rows]


def record_launch_attempts(db: Engine, due: DueLaunch, attempts: int, error: str | None) -> None:
    """Keep how many launch runs of this scheduling ended without launching, and why the last did, for people
    to see (the API, the dashboard); a newer scheduling's record is left alone."""
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE campaigns SET launch_attempts = :attempts, launch_error = :error, updated_at = now() "
                "WHERE id = :id AND schedule_seq = :seq "
                "AND (launch_attempts <> :attempts OR launch_error IS DISTINCT FROM :error)"
            ),
            {"id": due.campaign_id, "seq": due.schedule_seq, "attempts": attempts, "error": error},
        )


def give_up_launch(db: Engine, due: DueLaunch, attempts: int, error: str | None) -> bool:
    """Mark a campaign whose launch kept failing `failed`, with the reason, unless it was launched, unscheduled or
    rescheduled meanwhile; whether it was. Its notification and a "try again" follow from the status."""
    reason = f"the launch failed {attempts} times; the last attempt: {error or 'no reason recorded'}"
    with db.begin() as conn:
        given_up = conn.execute(
            text(
                "UPDATE campaigns SET status = 'failed', failure_reason = :reason, launch_attempts = :attempts, "
                "launch_error = :error, completed_at = now(), updated_at = now() "
                "WHERE id = :id AND schedule_seq = :seq AND status = 'scheduled'"
            ),
            {"id": due.campaign_id, "seq": due.schedule_seq, "reason": reason, "attempts": attempts, "error": error},
        ).rowcount
        if given_up:
            audit.record(conn, "pipelines", "campaign.launch_given_up", f"campaign:{due.campaign_id}",
                         {"attempts": attempts, "error": error})  # fmt: skip
    return bool(given_up)


@dataclass(frozen=True)
class LaunchTrouble:
    """A campaign whose launch did not go through: still being tried (`status` scheduled, or sending with messages
    not yet published) or given up on (`failed`), after `attempts` runs, and why."""

    campaign_id: int
    name: str
    status: str
    attempts: int
    reason: str | None
    updated_at: datetime


TROUBLES = """
SELECT id, name, status, launch_attempts, coalesce(failure_reason, launch_error), updated_at FROM campaigns
WHERE (launch_attempts > 0 AND (status = 'scheduled' OR (status IN :publishing AND published_at IS NULL)))
   OR (status = 'failed' AND launched_at IS NULL AND completed_at >= :since)
ORDER BY updated_at DESC LIMIT :limit
"""


def launch_troubles(db: Engine, since: datetime, limit: int = 50) -> list[LaunchTrouble]:
    """Launches being tried again now, and those given up on since `since`, the most recently changed first."""
    with db.connect() as conn:
        rows = conn.execute(text(TROUBLES).bindparams(bindparam("publishing", expanding=True)),
                            {"publishing": list(PUBLISHING), "since": since, "limit": limit})  # fmt: skip
        return [LaunchTrouble(*row) for row in rows]
