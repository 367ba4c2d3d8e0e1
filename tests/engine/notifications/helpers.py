"""Building blocks for notification tests: campaigns that reached an end, the kinds users see, and a webhook
receiver."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis
from pydantic import SecretStr
from sqlalchemy import Engine, text

from engine import webhooks
from engine.auth.users import User
from engine.campaigns.progress import complete_finished_campaigns
from engine.notifications.store import list_for_user
from engine.settings import Settings, get_settings
from tests.engine.campaigns.helpers import NOON, delivery_settings, features, launch

AFTER = NOON + timedelta(minutes=5)  # when the scans run
SECRET = webhooks.generate_secret()


def sending_campaign(
    db: Engine, client: redis.Redis, *, delivered: int, failed: int, pending: int = 0, created_by: int | None = None
) -> int:
    """A launched campaign whose first `failed` messages failed, the next `delivered` were delivered and the
    rest are still queued."""
    report = launch(db, client, delivery_settings(), features(failed + delivered + pending))
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE communication_log SET status = CASE WHEN customer_id <= :failed THEN 'failed' "
                "ELSE 'delivered' END, reason = CASE WHEN customer_id <= :failed THEN 'unreachable' END "
                "WHERE campaign_id = :id AND customer_id <= :final"
            ),
            {"id": report.campaign_id, "failed": failed, "final": failed + delivered},
        )
        conn.execute(text("UPDATE campaigns SET created_by = :user WHERE id = :id"),
                     {"user": created_by, "id": report.campaign_id})  # fmt: skip
    return report.campaign_id


def completed_campaign(db: Engine, client: redis.Redis, settings: Settings, *, delivered: int, failed: int,
                       created_by: int | None = None) -> int:  # fmt: skip
    campaign_id = sending_campaign(db, client, delivered=delivered, failed=failed, created_by=created_by)
    assert complete_finished_campaigns(db, settings, AFTER) == [campaign_id]
    return campaign_id


def kinds_seen(db: Engine, user: User) -> list[str]:
    """The kinds of the user's notifications, newest first."""
    return [notification.kind for notification in list_for_user(db, user)]


class Receiver:
    """A webhook receiver on a loopback port that answers 500 to its first `failures` requests, each after
    `delay_s`; `while_posting` runs during each request, before the answer."""

    def __init__(
        self, failures: int = 0, delay_s: float = 0, while_posting: Callable[[], object] | None = None
    ) -> None:
        self.failures = failures
        self.delay_s = delay_s
        self.while_posting = while_posting
        self.requests: list[tuple[dict[str, str], bytes, int]] = []  # headers, body, the status answered
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                time.sleep(receiver.delay_s)
                if receiver.while_posting is not None:
                    receiver.while_posting()
                status = 500 if len(receiver.requests) < receiver.failures else 204
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/xeno"

    @property
    def accepted(self) -> list[tuple[dict[str, str], bytes, int]]:
        return [request for request in self.requests if request[2] < 300]


@contextmanager
def receiving(**options: Any) -> Iterator[Receiver]:
    """A running `Receiver`, shut down afterwards."""
    receiver = Receiver(**options)
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def webhook_settings(url: str, **changes: Any) -> Settings:
    return get_settings().model_copy(
        update={"notify_webhook_url": url, "notify_webhook_secret": SecretStr(SECRET), "notify_webhook_backoff_s": 1,
                "notify_webhook_timeout_s": 5, **changes}
    )  # fmt: skip
