"""Outbound webhooks: campaign and delivery notifications posted to `XENO_NOTIFY_WEBHOOK_URL`, signed and retried.

Each one is written to an outbox (`notification_webhooks`) in the same transaction as its notification, so
none is lost to a crash in between. The delivery worker posts the due ones, signed per Standard Webhooks
with `XENO_NOTIFY_WEBHOOK_SECRET` (`engine.webhooks`): the `webhook-id` and the body are the same on every
attempt, so a receiver can drop a repeat; the timestamp and signature are the attempt's. Anything but a 2xx
is retried with exponential backoff up to `notify_webhook_max_attempts`, then given up, with the last error
kept. An attempt first leases its row (pushes `next_attempt_at` past the request timeout), so workers side by
side never post the same webhook at once, and one that dies mid-request leaves the row to be retried.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import orjson
from sqlalchemy import Connection, Engine, insert, text

from engine import webhooks
from engine.notifications.store import NewNotification
from engine.schema import notification_webhooks
from engine.settings import Settings, revealed

# The kinds that go out, and the event type each is posted as.
WEBHOOK_TYPES = {
    "campaign_completed": "campaign.completed",
    "campaign_failed": "campaign.failed",
    "delivery_failures": "campaign.delivery_failures",
}

CLAIM = """
UPDATE notification_webhooks SET attempts = attempts + 1, next_attempt_at = :lease_until
WHERE id IN (
    SELECT id FROM notification_webhooks
    WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= :now
    ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED
)
RETURNING id, webhook_id, payload, attempts
"""


@dataclass
class WebhookReport:
    delivered: int = 0
    retrying: int = 0
    gave_up: int = 0


def enqueue(conn: Connection, settings: Settings, notification_id: int, new: NewNotification, at: datetime) -> None:
    """Put the notification in the outbox (caller's transaction) if it is a kind that goes out and a URL is set."""
    event_type = WEBHOOK_TYPES.get(new.kind)
    if event_type is None or not settings.notify_webhook_url:
        return
    data = {
        "notification_id": notification_id,
        "kind": new.kind,
        "severity": new.severity,
        "title": new.title,
        "body": new.body,
        "campaign_id": new.campaign_id,
        "detail": new.detail,
    }
    payload = orjson.dumps({"type": event_type, "timestamp": at.isoformat(), "data": data}).decode()
    conn.execute(
        insert(notification_webhooks).values(
            notification_id=notification_id, webhook_id=f"msg_{uuid.uuid4().hex}", payload=payload, next_attempt_at=at
        )
    )


def backoff_seconds(attempt: int, settings: Settings) -> float:
    """The wait after failed attempt number `attempt` (1-based): doubling from the base, up to the cap."""
    return min(settings.notify_webhook_backoff_s * 2 ** (attempt - 1), settings.notify_webhook_backoff_max_s)


def post_due_webhooks(db: Engine, settings: Settings, now: datetime, budget_s: float | None = None) -> WebhookReport:
    """Post the webhooks whose attempt is due (each at most once), until none is left or `budget_s` is spent.

    `now` is when the round starts; each claim, lease and outcome is timed from it plus the time gone since.
    """
    report = WebhookReport()
    url, secret = settings.notify_webhook_url, revealed(settings.notify_webhook_secret)
    if not url or not secret:
        return report
    started = time.monotonic()
    with httpx.Client(timeout=settings.notify_webhook_timeout_s) as http:
        while budget_s is None or time.monotonic() - started < budget_s:
            moment = now + timedelta(seconds=time.monotonic() - started)  # the lease runs from the claim, not the round
            lease_until = moment + timedelta(seconds=settings.notify_webhook_timeout_s * 2)
            with db.begin() as conn:
                due = conn.execute(text(CLAIM), {"now": moment, "lease_until": lease_until}).one_or_none()
            if due is None:
                break
            row_id, webhook_id, payload, attempts = due
            error = _post(http, url, secret, webhook_id, payload)
            answered = now + timedelta(seconds=time.monotonic() - started)
            outcome = _record(db, settings, row_id, attempts, error, answered)
            setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _post(http: httpx.Client, url: str, secret: str, webhook_id: str, payload: str) -> str | None:
    """Post one attempt; None when the receiver accepted it, else what went wrong."""
    body = payload.encode()
    headers = {"content-type": "application/json", **webhooks.sign(secret, webhook_id, int(time.time()), body)}
    try:
        response = http.post(url, content=body, headers=headers)
    except (httpx.HTTPError, httpx.InvalidURL) as error:  # a bad URL counts as a failed attempt, not a crash
        return f"{type(error).__name__}: {error}"[:500]
    if response.is_success:
        return None
    return f"HTTP {response.status_code}: {response.text[:200]}"


def _record(db: Engine, settings: Settings, row_id: int, attempts: int, error: str | None, now: datetime) -> str:
    values: dict[str, object]
    if error is None:
        values, outcome = {"delivered_at": now, "last_error": None}, "delivered"
    elif attempts >= settings.notify_webhook_max_attempts:
        values, outcome = {"gave_up_at": now, "last_error": error}, "gave_up"
    else:
        retry_at = now + timedelta(seconds=backoff_seconds(attempts, settings))
        values, outcome = {"next_attempt_at": retry_at, "last_error": error}, "retrying"
    with db.begin() as conn:
        conn.execute(notification_webhooks.update().where(notification_webhooks.c.id == row_id).values(**values))
    return outcome
