"""The plain records that travel on the ingest stream, one shape per table, as JSON-ready dicts.

Both APIs (ours and the Segment-compatible one) produce these, and the consumer applies only these, so
the stream format is one thing to keep stable. Times are ISO-8601 strings with a zone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NotRequired, TypedDict


class CustomerRecord(TypedDict):
    external_id: str
    email: NotRequired[str | None]
    phone: NotRequired[str | None]
    first_name: NotRequired[str | None]
    last_name: NotRequired[str | None]
    city: NotRequired[str | None]
    country: NotRequired[str | None]
    timezone: NotRequired[str | None]
    signed_up_at: NotRequired[str | None]
    email_consent: NotRequired[bool | None]
    sms_consent: NotRequired[bool | None]
    traits: NotRequired[dict[str, Any]]
    ts: str  # when the integrator says this update happened: the newest wins


class OrderRecord(TypedDict):
    external_id: str
    customer_external_id: str
    amount: str  # a decimal, kept as text so no float ever rounds money
    currency: str
    status: str
    items: list[dict[str, Any]]
    ordered_at: str
    ts: str


TRACKING_SOURCE = "xeno-tracking"
"""`context.source` of the events our own open pixel and click redirects make (engine.engagement.tracking); each
names its message in `properties.message_id`, and is dropped at ingest once that message is gone (its customer
was erased while the event waited on the stream)."""


class EventRecord(TypedDict):
    message_id: str
    customer_external_id: str | None
    anonymous_id: str | None
    type: str
    name: str | None
    properties: dict[str, Any]
    context: dict[str, Any]
    occurred_at: str | datetime  # a datetime only before it is encoded; on the stream it is text


CUSTOMER_FIELDS = (
    "email", "phone", "first_name", "last_name", "city", "country", "timezone",
    "signed_up_at", "email_consent", "sms_consent",
)  # fmt: skip


class Batch(TypedDict):
    """What one stream entry carries: the records of one accepted request, by table."""

    customers: list[CustomerRecord]
    orders: list[OrderRecord]
    events: list[EventRecord]


def empty_batch() -> Batch:
    return {"customers": [], "orders": [], "events": []}


def batch_size(batch: Batch) -> int:
    return len(batch["customers"]) + len(batch["orders"]) + len(batch["events"])
