"""Finding what needs people: one idempotent scan, run every ten seconds by the delivery worker.

Each event is recorded once under a key that names it, so scanning again (or two workers scanning at
once) adds nothing:

    campaign_completed  campaign:<id>:completed          marketers and up, and the campaign's creator
    campaign_failed     campaign:<id>:failed             marketers and up, and the campaign's creator
    delivery_failures   campaign:<id>:delivery_failures  more than `notify_failure_rate` of the campaign's
                                                         delivered-or-failed messages failed, counted once at
                                                         least `notify_failure_min` are; same audience
    dead_letters        dead_letters:after:<notice id>   new ingest dead letters since the last notice (the
                                                         one with that id; 0 for the first); analysts and up
    snapshot_stale      snapshot_stale:<version>         the newest feature snapshot is older than
                                                         `notify_snapshot_stale_s`; analysts and up

Only what happened within `LOOKBACK` (a day) is news: a first scan after a deploy does not announce every
campaign that ever finished. The scan reads what is new, not the whole history: finished campaigns by their
completion time, dead letters from where the last notice's window starts (see `_dead_letters`). A sending
campaign's failures are counted only until they are announced, and only when the caller asks (the worker: at
most once a minute); so are those of a campaign completed within the lookback whose messages still await
receipts, since a late receipt can still fail them.

Campaign and delivery events also go to the outbound webhook (`outbound`), in the same transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, text

from engine.auth.roles import Role
from engine.campaigns.progress import MessageCounts, message_counts
from engine.features.snapshot import snapshot_info
from engine.notifications import outbound
from engine.notifications.store import Kind, NewNotification, record
from engine.schema import notifications
from engine.settings import Settings

# Events older than this are history, not news: the first scan after a deploy (or after the worker was down a
# while) announces the campaigns that finished and the dead letters written within it, not every one ever.
LOOKBACK = timedelta(days=1)

# Campaigns that finished within the lookback and are not announced yet (`:since` keeps the scan off history).
FINISHED = """
SELECT c.id, c.name, c.status, c.failure_reason, c.created_by FROM campaigns c
WHERE c.status IN ('completed', 'failed') AND c.completed_at >= :since
  AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.dedupe_key = 'campaign:' || c.id || ':' || c.status)
ORDER BY c.id
"""

# Campaigns whose delivery failures have not been announced yet and whose messages can still fail: sending (or
# paused) ones, and ones completed within the lookback with messages still awaiting a receipt (a late receipt
# can still fail them). A completed campaign's counts are kept once all its messages are final
# (`settled_counts`), so those drop out without counting.
DELIVERING = """
SELECT c.id, c.name, c.created_by FROM campaigns c
WHERE (c.status IN ('sending', 'paused')
       OR (c.status = 'completed' AND c.completed_at >= :since AND c.settled_counts IS NULL))
  AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.dedupe_key = 'campaign:' || c.id || :failures_suffix)
ORDER BY c.id
"""

# Where the first window starts, before any dead-letter notice: after the dead letters older than the lookback.
FIRST_WINDOW = "SELECT coalesce(max(id), 0) FROM ingest_dead_letters WHERE failed_at < :since"
# The last notice's window (ids above `:after`) now, and the next window (ids above `:through`, that notice's
# newest id).
DEAD_LETTER_WINDOWS = """
SELECT count(*), count(*) FILTER (WHERE id > :through), max(id) FROM ingest_dead_letters WHERE id > :after
"""
WAITING_DEAD_LETTERS = "SELECT count(*) FROM ingest_dead_letters WHERE replayed_at IS NULL"


def notify(db: Engine, settings: Settings, new: NewNotification, at: datetime) -> int | None:
    """Record the event and queue its webhook in one transaction; its id, or None if it was already known."""
    with db.begin() as conn:
        notification_id = record(conn, new, at)
        if notification_id is not None:
            outbound.enqueue(conn, settings, notification_id, new, at)
    return notification_id


def watch_once(db: Engine, settings: Settings, now: datetime, *, count_sending: bool = True) -> list[int]:
    """Scan for every kind of event once; the ids of the notifications it recorded.

    Counting a sending campaign's messages reads all of its log rows (a million for a big one), so the caller
    says whether to do it this time (the delivery worker: at most once a minute), for sending campaigns and
    completed ones still awaiting receipts alike; campaigns that just finished are always counted, once, for
    their completion notice and a look at their failures.
    """
    since = now - LOOKBACK
    found = [
        *(_delivering_failures(db, settings, since) if count_sending else []),
        *_finished_campaigns(db, settings, since),
        *_dead_letters(db, since),
        *_stale_snapshot(db, settings, now),
    ]
    return [notification_id for new in found if (notification_id := notify(db, settings, new, now)) is not None]


def _campaign_notice(row: Any, kind: Kind, **fields: Any) -> NewNotification:
    return NewNotification(
        kind=kind,
        dedupe_key=f"campaign:{row.id}:{kind.removeprefix('campaign_')}",
        min_role=Role.marketer,
        campaign_id=row.id,
        user_id=row.created_by,
        **fields,
    )


def _tally(counts: MessageCounts) -> dict[str, int]:
    return {
        "delivered": counts.delivered,
        "failed": counts.failed,
        "skipped": counts.skipped,
        "awaiting_receipt": counts.sent,
        "total": counts.total,
    }


def _finished_campaigns(db: Engine, settings: Settings, since: datetime) -> list[NewNotification]:
    """Each newly finished campaign's notice, after its delivery-failure notice when its final counts call for one
    (recorded first, so a crash in between leaves both to the next scan)."""
    with db.connect() as conn:
        rows = conn.execute(text(FINISHED), {"since": since}).all()
    found = []
    for row in rows:
        counts = message_counts(db, row.id)
        found.extend(_failure_notice(row, counts, settings))
        if row.status == "failed":
            found.append(
                _campaign_notice(
                    row,
                    "campaign_failed",
                    severity="error",
                    title=f"Campaign “{row.name}” failed",
                    body=row.failure_reason or "The campaign failed without a reason.",
                    detail={"reason": row.failure_reason, **_tally(counts)},
                )
            )
        else:
            found.append(
                _campaign_notice(
                    row,
                    "campaign_completed",
                    severity="info",
                    title=f"Campaign “{row.name}” completed",
                    body=_completion_summary(counts),
                    detail=_tally(counts),
                )
            )
    return found


def _completion_summary(counts: MessageCounts) -> str:
    """The final tally; one completed past the receipt timeout says how many messages never got a receipt, so
    the numbers add up."""
    summary = (
        f"{counts.delivered:,} delivered, {counts.failed:,} failed and {counts.skipped:,} skipped "
        f"of {counts.total:,} recipients"
    )
    if counts.sent:
        return f"{summary}; {counts.sent:,} still awaiting a receipt."
    return f"{summary}."


def _delivering_failures(db: Engine, settings: Settings, since: datetime) -> list[NewNotification]:
    with db.connect() as conn:
        rows = conn.execute(text(DELIVERING), {"since": since, "failures_suffix": ":delivery_failures"}).all()
    return [notice for row in rows for notice in _failure_notice(row, message_counts(db, row.id), settings)]


def _failure_notice(row: Any, counts: MessageCounts, settings: Settings) -> list[NewNotification]:
    """The delivery-failure notice when more than the threshold of enough final messages failed, else none."""
    finished = counts.delivered + counts.failed
    if finished < settings.notify_failure_min or counts.failed <= settings.notify_failure_rate * finished:
        return []
    share = counts.failed / finished
    return [
        _campaign_notice(
            row,
            "delivery_failures",
            severity="warning",
            title=f"Campaign “{row.name}”: {share:.0%} of messages failed",
            body=f"{counts.failed:,} of {finished:,} messages delivered or failed so far have failed "
            f"(the threshold is {settings.notify_failure_rate:.0%}); the failed ones keep their reasons in the "
            "communication log.",
            detail={**_tally(counts), "failure_rate": round(share, 4)},
        )
    ]


def _dead_letters(db: Engine, since: datetime) -> list[NewNotification]:
    """New dead letters since the last notice (only ones written within the lookback before the first notice,
    so a first scan does not announce old ones as new).

    Ids are taken when a dead letter is written but become visible when its transaction commits, so one with a
    lower id can appear after a scan counted a higher one. Each notice therefore keeps a window: the ids above
    the previous notice's newest (`window_after_id`) and how many it held (`window_count`). The next scan counts
    that window again, so a late one in it is news; what falls below it (a transaction open across two notices)
    is not announced. Each notice is keyed by the one it follows, so two scans at once record one."""
    with db.connect() as conn:
        last = conn.execute(
            select(notifications.c.id, notifications.c.detail)
            .where(notifications.c.kind == "dead_letters")
            .order_by(notifications.c.id.desc())
            .limit(1)
        ).one_or_none()
        if last is None:
            last_id, after, counted = 0, int(conn.scalar(text(FIRST_WINDOW), {"since": since}) or 0), 0
            through = after
        else:
            last_id, through = last.id, int(last.detail["through_id"])
            # notices from before windows were kept: their window is what came after their newest id
            after, counted = int(last.detail.get("window_after_id", through)), int(last.detail.get("window_count", 0))
        in_window, in_next_window, newest = conn.execute(
            text(DEAD_LETTER_WINDOWS), {"after": after, "through": through}
        ).one()
        new = in_window - counted
        if new <= 0:
            return []
        waiting = conn.scalar(text(WAITING_DEAD_LETTERS))
    return [
        NewNotification(
            kind="dead_letters",
            severity="warning",
            title=f"{new:,} ingest {'entry' if new == 1 else 'entries'} dead-lettered",
            body=f"{new:,} new ingest {'entry' if new == 1 else 'entries'} could not be applied; {waiting:,} "
            "dead letters wait for a replay. See GET /v1/pipelines/dead-letters for the errors.",
            dedupe_key=f"dead_letters:after:{last_id}",
            min_role=Role.analyst,
            detail={
                "new": new,
                "through_id": newest,
                "waiting": waiting,
                "window_after_id": through,
                "window_count": in_next_window,
            },
        )
    ]


def _stale_snapshot(db: Engine, settings: Settings, now: datetime) -> list[NewNotification]:
    info = snapshot_info(db)
    if info is None:
        return []
    age_s = (now - info.created_at).total_seconds()
    if age_s <= settings.notify_snapshot_stale_s:
        return []
    return [
        NewNotification(
            kind="snapshot_stale",
            severity="warning",
            title=f"Feature snapshot v{info.version} is {_duration(age_s)} old",
            body=f"The newest customer feature snapshot (v{info.version}) was published {_duration(age_s)} ago; "
            "the hourly refresh should have replaced it. Check refresh_customer_features_job in Dagster.",
            dedupe_key=f"snapshot_stale:{info.version}",
            min_role=Role.analyst,
            detail={"version": info.version, "published_at": info.created_at.isoformat(), "age_s": round(age_s)},
        )
    ]


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"
