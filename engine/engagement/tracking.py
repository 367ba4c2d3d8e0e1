"""The events an open or a click becomes: `Email Opened` and `Link Clicked` on the customer the message went to.

They go on the ingest stream like any integrator's event, so they land in `events` through the one ingest
path (and segments can use them). Their message ids decide what a repeat is: an e-mail is opened once
(`xeno-open-<message>`: a reloaded pixel adds nothing), while every click is an event of its own (people do
click a link twice) and counts of clicking customers stay exact by counting customers, not events. A message
that is no longer in the log (its customer was erased) records nothing, and an event made before the erasure but
still waiting on the ingest stream is dropped when it is applied (engine.ingest.apply), so it cannot bring the
customer back.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Engine, text

from engine.ingest.records import TRACKING_SOURCE, EventRecord

EMAIL_OPENED = "Email Opened"
LINK_CLICKED = "Link Clicked"
ENGAGEMENT_EVENTS = (EMAIL_OPENED, LINK_CLICKED)
TRACKED_EVENT_PREFIX = "xeno-"  # the message ids of the events our tracking makes (integrators' are not counted)
OPEN_ID_PREFIX = f"{TRACKED_EVENT_PREFIX}open-"
CLICK_ID_PREFIX = f"{TRACKED_EVENT_PREFIX}click-"

_MESSAGE = """
SELECT l.campaign_id, l.channel, c.external_id, k.name AS campaign_name
FROM communication_log l
JOIN customers c ON c.id = l.customer_id
LEFT JOIN campaigns k ON k.id = l.campaign_id
WHERE l.id = :message_id
"""


def engagement_event(db: Engine, message_id: int, occurred_at: datetime, url: str | None = None) -> EventRecord | None:
    """The event of opening message `message_id` (or, given `url`, of clicking that link in it); None when the
    message or its customer is gone."""
    with db.connect() as conn:
        row = conn.execute(text(_MESSAGE), {"message_id": message_id}).mappings().one_or_none()
    if row is None:
        return None
    properties = {
        "campaign_id": row["campaign_id"],
        "campaign_name": row["campaign_name"],
        "channel": row["channel"],
        "message_id": message_id,
    }
    if url is None:
        event_id, name = f"{OPEN_ID_PREFIX}{message_id}", EMAIL_OPENED
    else:
        event_id, name = f"{CLICK_ID_PREFIX}{message_id}-{uuid.uuid4().hex}", LINK_CLICKED
        properties["url"] = url
    return EventRecord(
        message_id=event_id,
        customer_external_id=row["external_id"],
        anonymous_id=None,
        type="track",
        name=name,
        properties=properties,
        context={"source": TRACKING_SOURCE},
        occurred_at=occurred_at.isoformat(),
    )
