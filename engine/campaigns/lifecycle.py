"""A campaign's life: saved as a draft, scheduled (now or later), sending, paused and resumed, cancelled,
completed; and "retry the failed" as a follow-up linked to it. The API's routes are thin calls to these.

    draft ──schedule──▶ scheduled ──(launch)──▶ sending ⇄ paused
      ▲                  │ ▲  │                   │        │
      └───unschedule─────┘ │  └─(launch failed)─▶ failed   │
      │                    └──────try again─────────┘      │
      └──────cancel────────┴──────────────────────┴────────┴──▶ cancelled
                                                  └──(all messages final)──▶ completed

Saving checks the rule against the feature catalog and the template (and subject) for unknown variables
and syntax errors, so a launch does not discover them. A launch that cannot start is tried again by the
pipelines (`pipelines/defs/campaigns/sensors.py`); one the campaign itself makes impossible (its rule, template
or segment), or that failed `launch_max_attempts` times, leaves it `failed` with the reason, and "try again"
schedules it anew. Pausing stops senders from posting the campaign's queued messages (they go back to pending);
resuming queues them again. Cancelling skips every message not yet posted, with the reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, text

from engine.auth import audit
from engine.campaigns.audience import RetryableFailures, retryable_failures
from engine.campaigns.errors import CampaignInvalid, CampaignNotFound, CampaignStateError, NothingToRetry, RetryPending
from engine.campaigns.templates import check_campaign_templates
from engine.channels import CHANNELS, UnknownChannel, get_channel
from engine.features.catalog import Catalog
from engine.segments import dump_rule, parse_rule

CANCELLED = "campaign cancelled"


@dataclass(frozen=True)
class CampaignDraft:
    """What a marketer saves: the audience is a saved segment or an inline rule (JSON), not both."""

    name: str
    channel: str  # a channel's name (`engine.channels`)
    template: str
    subject: str | None = None
    segment_id: int | None = None
    audience_rule: Any = None
    topic: str | None = None  # the subscription topic; those who left it are skipped (engine.consent)
    html_template: str | None = None  # channels with `has_html` (e-mail): the HTML part's template


def _checked(draft: CampaignDraft, catalog: Catalog) -> dict[str, Any]:
    if (draft.segment_id is None) == (draft.audience_rule is None):
        raise CampaignInvalid("a campaign's audience is either a segment_id or an audience_rule")
    try:
        channel = get_channel(draft.channel)
    except UnknownChannel as problem:
        raise CampaignInvalid(str(problem)) from None
    if channel.subject and not (draft.subject or "").strip():
        raise CampaignInvalid(f"{channel.label} campaigns need a subject")
    if not channel.subject and draft.subject is not None:
        with_subject = " and ".join(other.label for other in CHANNELS.values() if other.subject)
        raise CampaignInvalid(f"only {with_subject} campaigns have a subject")
    if not channel.has_html and draft.html_template is not None:
        with_html = " and ".join(other.label for other in CHANNELS.values() if other.has_html)
        raise CampaignInvalid(f"only {with_html} campaigns have an HTML template")
    check_campaign_templates(draft.template, draft.subject, draft.html_template, catalog)
    rule = None if draft.audience_rule is None else dump_rule(parse_rule(draft.audience_rule, catalog))
    return {
        "name": draft.name,
        "channel": draft.channel,
        "template": draft.template,
        "subject": draft.subject,
        "html_template": draft.html_template,
        "segment_id": draft.segment_id,
        "rule": None if rule is None else orjson.dumps(rule).decode(),
        "topic": draft.topic,
    }


def _require_topic(conn: Connection, topic: str | None) -> None:
    known = topic is None or conn.execute(text("SELECT 1 FROM topics WHERE key = :key"), {"key": topic}).first()
    if not known:
        raise CampaignInvalid(f"there is no subscription topic {topic!r}: create it first (POST /v1/topics)")


def create_campaign(
    db: Engine, draft: CampaignDraft, catalog: Catalog, *, created_by: int | None = None, actor: str = "system"
) -> int:
    """Save a draft; `CampaignInvalid`, `RuleError` or `TemplateError` (with positions) when it is not usable."""
    values = _checked(draft, catalog)
    with db.begin() as conn:
        _require_topic(conn, draft.topic)
        campaign_id = int(
            conn.execute(
                text(
                    "INSERT INTO campaigns (name, channel, template, subject, html_template, segment_id, "
                    "audience_rule, topic, created_by) VALUES (:name, :channel, :template, :subject, :html_template, "
                    ":segment_id, CAST(:rule AS jsonb), :topic, :created_by) "
                    "RETURNING id"
                ),
                {**values, "created_by": created_by},
            ).scalar_one()
        )
        _audit(conn, actor, "created", campaign_id, {"name": draft.name})
        return campaign_id


def update_campaign(
    db: Engine, campaign_id: int, draft: CampaignDraft, catalog: Catalog, *, actor: str = "system"
) -> None:
    """Replace a draft's content (only drafts change: unschedule a scheduled one first)."""
    values = _checked(draft, catalog)
    with db.begin() as conn:
        _require(conn, campaign_id, {"draft"}, "edited")
        _require_topic(conn, draft.topic)
        conn.execute(
            text(
                "UPDATE campaigns SET name = :name, channel = :channel, template = :template, subject = :subject, "
                "html_template = :html_template, segment_id = :segment_id, audience_rule = CAST(:rule AS jsonb), "
                "topic = :topic, updated_at = now() "
                "WHERE id = :id"
            ),
            {**values, "id": campaign_id},
        )
        _audit(conn, actor, "edited", campaign_id)


def delete_campaign(db: Engine, campaign_id: int, *, actor: str = "system") -> None:
    """Delete a draft (anything that was launched stays, for its history)."""
    with db.begin() as conn:
        _require(conn, campaign_id, {"draft"}, "deleted")
        conn.execute(text("DELETE FROM campaigns WHERE id = :id"), {"id": campaign_id})
        _audit(conn, actor, "deleted", campaign_id)


def _require(conn: Connection, campaign_id: int, allowed: set[str], action: str) -> str:
    """Lock the campaign and return its status; refuse when it is not one of `allowed`."""
    status = conn.execute(
        text("SELECT status FROM campaigns WHERE id = :id FOR UPDATE"), {"id": campaign_id}
    ).scalar_one_or_none()
    if status is None:
        raise CampaignNotFound(campaign_id)
    if status not in allowed:
        raise CampaignStateError(campaign_id, status, action)
    return str(status)


def _set_status(conn: Connection, campaign_id: int, status: str, extra: str = "") -> None:
    conn.execute(
        text(f"UPDATE campaigns SET status = :status, updated_at = now(){extra} WHERE id = :id"),
        {"status": status, "id": campaign_id},
    )


def _audit(conn: Connection, actor: str, action: str, campaign_id: int, detail: dict[str, Any] | None = None) -> None:
    """Record who moved the campaign, in the transaction that moves it."""
    audit.record(conn, actor, f"campaign.{action}", f"campaign:{campaign_id}", detail)


def schedule_campaign(db: Engine, campaign_id: int, at: datetime | None = None, *, actor: str = "system") -> datetime:
    """Schedule a draft to launch at `at` (now when None); the launch sensor picks it up once due."""
    when = at or datetime.now(UTC)
    if when.tzinfo is None:
        raise CampaignInvalid("a schedule time needs a time zone")
    with db.begin() as conn:
        _require(conn, campaign_id, {"draft", "scheduled"}, "scheduled")
        _set_scheduled(conn, campaign_id, when)
        _audit(conn, actor, "scheduled", campaign_id, {"at": when.isoformat()})
    return when


def _set_scheduled(conn: Connection, campaign_id: int, at: datetime) -> None:
    """Schedule anew: a new `schedule_seq`, so this scheduling gets launch runs of its own (a run of an earlier
    one, even one that found the campaign unscheduled, never stands in for it), and no attempts yet."""
    conn.execute(
        text(
            "UPDATE campaigns SET status = 'scheduled', scheduled_at = :at, schedule_seq = schedule_seq + 1, "
            "launch_attempts = 0, launch_error = NULL, failure_reason = NULL, completed_at = NULL, "
            "updated_at = now() WHERE id = :id"
        ),
        {"at": at, "id": campaign_id},
    )


def relaunch_campaign(db: Engine, campaign_id: int, *, actor: str = "system") -> datetime:
    """ "Try again": schedule a campaign whose launch failed (it never sent anything) to launch now, with fresh
    attempts. A campaign that failed after launching, or did not fail, is refused."""
    now = datetime.now(UTC)
    with db.begin() as conn:
        _require(conn, campaign_id, {"failed"}, "launched again")
        launched = conn.execute(
            text("SELECT launched_at IS NOT NULL FROM campaigns WHERE id = :id"), {"id": campaign_id}
        ).scalar_one()
        if launched:
            raise CampaignStateError(campaign_id, "failed after launching", "launched again")
        _set_scheduled(conn, campaign_id, now)
        _audit(conn, actor, "relaunched", campaign_id, {"at": now.isoformat()})
    return now


def unschedule_campaign(db: Engine, campaign_id: int, *, actor: str = "system") -> None:
    """Take a scheduled campaign that has not launched back to draft."""
    with db.begin() as conn:
        _require(conn, campaign_id, {"scheduled"}, "unscheduled")
        _set_status(conn, campaign_id, "draft", ", scheduled_at = NULL")
        _audit(conn, actor, "unscheduled", campaign_id)


def pause_campaign(db: Engine, campaign_id: int, *, actor: str = "system") -> None:
    """Stop posting: senders put the campaign's queued messages back to pending as they reach them."""
    with db.begin() as conn:
        _require(conn, campaign_id, {"sending"}, "paused")
        _set_status(conn, campaign_id, "paused")
        _audit(conn, actor, "paused", campaign_id)


def resume_campaign(db: Engine, campaign_id: int, *, actor: str = "system") -> None:
    """Post again: its pending messages are queued by the next `queue_due_messages` (quiet hours still apply)."""
    with db.begin() as conn:
        _require(conn, campaign_id, {"paused"}, "resumed")
        _set_status(conn, campaign_id, "sending")
        _audit(conn, actor, "resumed", campaign_id)


def cancel_campaign(db: Engine, campaign_id: int, *, actor: str = "system") -> int:
    """Cancel; every message not yet posted is skipped with the reason. Returns how many were skipped now
    (queued ones already on the delivery stream are skipped by the sender that reaches them; queued ones a launch
    had not yet published, now)."""
    with db.begin() as conn:
        _require(conn, campaign_id, {"draft", "scheduled", "sending", "paused"}, "cancelled")
        _set_status(conn, campaign_id, "cancelled", ", completed_at = now()")
        skipped = conn.execute(
            text(
                "UPDATE communication_log l SET status = 'skipped', reason = :reason FROM campaigns c "
                "WHERE c.id = :id AND l.campaign_id = c.id "
                "AND (l.status = 'pending' OR (l.status = 'queued' AND l.id > c.published_through))"
            ),
            {"id": campaign_id, "reason": CANCELLED},
        ).rowcount
        _audit(conn, actor, "cancelled", campaign_id, {"skipped": skipped})
        return skipped


@dataclass(frozen=True)
class FollowUp(RetryableFailures):
    """A "retry the failed" follow-up campaign (`follow_up`, its id), how many failed messages it re-sends and
    which it leaves out, by reason."""

    follow_up: int


def failures_to_retry(db: Engine, campaign_id: int) -> RetryableFailures:
    """What "retry the failed" would re-send now, and what it would leave out and why."""
    with db.connect() as conn:
        return retryable_failures(conn, campaign_id)


def retry_failed(
    db: Engine, campaign_id: int, *, created_by: int | None = None, at: datetime | None = None, actor: str = "system"
) -> FollowUp:
    """A follow-up campaign, scheduled at `at` (now when None), re-sending to the recipients of a finished
    campaign whose message failed transiently (engine.campaigns.failures); permanent failures are left out and
    counted by reason, in the answer and the audit log. `CampaignInvalid` when nothing failed, `NothingToRetry`
    when every failure was permanent, `RetryPending` when a follow-up that has not failed or been cancelled
    already retries them (so a second click sends nothing twice)."""
    with db.begin() as conn:
        _require(conn, campaign_id, {"completed", "cancelled"}, "retried")
        retrying = conn.execute(
            text(
                "SELECT id FROM campaigns WHERE parent_campaign_id = :id AND status NOT IN ('failed', 'cancelled') "
                "ORDER BY id LIMIT 1"
            ),
            {"id": campaign_id},
        ).scalar_one_or_none()
        if retrying is not None:
            raise RetryPending(campaign_id, retrying)
        failures = retryable_failures(conn, campaign_id)
        if not failures.retrying and not failures.left_out:
            raise CampaignInvalid(f"campaign {campaign_id} has no failed messages to retry")
        if not failures.retrying:
            raise NothingToRetry(campaign_id, failures.left_out)
        follow_up = int(
            conn.execute(
                text(
                    "INSERT INTO campaigns (name, channel, template, subject, html_template, segment_id, "
                    "audience_rule, topic, parent_campaign_id, created_by, status, scheduled_at) "
                    "SELECT name || ' (retry of the failed)', channel, template, subject, html_template, segment_id, "
                    "audience_rule, topic, id, :created_by, 'scheduled', :at FROM campaigns WHERE id = :id RETURNING id"
                ),
                {"id": campaign_id, "created_by": created_by, "at": at or datetime.now(UTC)},
            ).scalar_one()
        )
        retry = FollowUp(failures.retrying, failures.left_out, follow_up)
        _audit(conn, actor, "retried", campaign_id, asdict(retry))
        return retry
