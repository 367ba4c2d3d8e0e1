"""Segment's HTTP Tracking API, mapped onto our records, so existing analytics SDKs work unchanged.

Every call (identify, track, page, screen, group, alias) is kept as an event, deduplicated by its
`messageId`. `identify` traits also update the customer; a `track` of "Order Completed" (Segment's
e-commerce spec) also records the order. Client clocks are corrected the way Segment does it: an event's
time is shifted by the difference between when the request was sent (`sentAt`) and when it arrived.

Identify traits are read from `traits` and from `context.traits`, the top-level ones winning key by key, as
Segment's servers do: some SDKs (RudderStack's Python SDK) send them only in `context.traits`.

A batch is validated whole first (`whole_batch`: one `validate_json` call into pydantic's core for the body);
only a batch that fails is validated again message by message (`loose_batch_adapter`) to name each bad one.
Either way every accepted record is screened for what Postgres cannot store, and only a record the screen
flags is looked at closely, naming the field.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, NamedTuple, Required, TypeVar

import orjson
from pydantic import Field, StringConstraints, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from engine.ingest.native import CustomerIn, OrderIn, customer_adapter, order_adapter
from engine.ingest.records import Batch, EventRecord, empty_batch
from engine.ingest.validation import ItemProblem, problems_of, unstorable
from engine.postgres_safe import TIME_RANGE_MESSAGE, json_problem, storable_json, storable_time

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
ORDER_COMPLETED = "Order Completed"

Id = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class SegmentMessage(TypedDict, total=False):
    """A Segment call as the spec names its fields (other fields, such as `integrations`, are dropped).

    A TypedDict rather than a model: validating a plain dict is several times cheaper, and this runs
    once per event on the ingest path.
    """

    type: Required[Literal["identify", "track", "page", "screen", "group", "alias"]]
    userId: Id | None
    anonymousId: Id | None
    messageId: Id | None
    timestamp: datetime | None
    originalTimestamp: datetime | None
    sentAt: datetime | None
    context: dict[str, Any]
    traits: dict[str, Any]
    properties: dict[str, Any]
    event: Id | None
    name: str | None
    groupId: Id | None
    previousId: Id | None


message_adapter = TypeAdapter(SegmentMessage)
Message = TypeVar("Message")


class SegmentBatch(TypedDict, Generic[Message], total=False):
    """The body of `/v1/batch`: messages of any type, with shared context and send time."""

    batch: Required[Annotated[list[Message], Field(max_length=2500)]]
    context: dict[str, Any]
    sentAt: datetime | None
    writeKey: str | None


batch_adapter = TypeAdapter(SegmentBatch[SegmentMessage])
loose_batch_adapter = TypeAdapter(SegmentBatch[Any])  # each message validated on its own, to name the bad ones


def whole_batch(body: bytes) -> SegmentBatch[SegmentMessage] | None:
    """The batch validated whole, or None when it must be validated message by message: a message is bad, or the
    body holds what pydantic's parser takes and JSON does not (NaN, Infinity), which the JSON parser refuses."""
    if b"NaN" in body or b"Infinity" in body:
        return None
    try:
        return batch_adapter.validate_json(body)
    except ValidationError:
        return None


def _refusal(message: SegmentMessage) -> tuple[str, str] | None:
    kind = message["type"]
    if not message.get("userId") and not message.get("anonymousId"):
        return "userId", "userId or anonymousId is required"
    if kind == "track" and not message.get("event"):
        return "event", "a track call needs an event name"
    if kind == "alias" and not (message.get("previousId") and message.get("userId")):
        return "previousId", "an alias call needs previousId and userId"
    if kind == "group" and not message.get("groupId"):
        return "groupId", "a group call needs a groupId"
    return None


def _occurred_at(message: SegmentMessage, received_at: datetime, batch_sent_at: datetime | None) -> datetime:
    """When the call happened, by the client's clock corrected by `sentAt`; ValueError if Postgres cannot store it.

    Times without a zone are taken as UTC (checked here, where it is needed, not per field).
    """
    happened = message.get("timestamp") or message.get("originalTimestamp")
    if happened is None:
        return received_at
    sent_at = message.get("sentAt") or batch_sent_at
    if sent_at is None:  # nothing to correct by (the usual batch): the time as sent
        return storable_time(happened)
    try:
        return storable_time(storable_time(happened) + (received_at - storable_time(sent_at)))
    except OverflowError:
        raise ValueError(TIME_RANGE_MESSAGE) from None


def _name_parts(traits: dict[str, Any]) -> tuple[Any, Any]:
    first = traits.get("firstName", traits.get("first_name"))
    last = traits.get("lastName", traits.get("last_name"))
    if first is None and last is None and isinstance(traits.get("name"), str):
        first, _, rest = traits["name"].strip().partition(" ")
        last = rest or None
    return first, last


def identify_traits(message: SegmentMessage) -> dict[str, Any]:
    """The traits of an identify call: `context.traits` overlaid with the top-level `traits` (which win)."""
    traits = message.get("traits", {})
    in_context = message.get("context", {}).get("traits")
    return {**in_context, **traits} if isinstance(in_context, dict) and in_context else traits


def _customer_from_identify(message: SegmentMessage, occurred_at: datetime) -> CustomerIn:
    traits = identify_traits(message)
    address = traits.get("address")
    if not isinstance(address, dict):
        address = {}
    first, last = _name_parts(traits)
    candidate = {
        "external_id": message.get("userId"),
        "email": traits.get("email"),
        "phone": traits.get("phone"),
        "first_name": first,
        "last_name": last,
        "city": address.get("city", traits.get("city")),
        "country": address.get("country", traits.get("country")),
        "timezone": message.get("context", {}).get("timezone", traits.get("timezone")),
        "signed_up_at": traits.get("createdAt", traits.get("created_at")),
        "email_consent": traits.get("email_consent", traits.get("emailConsent")),
        "sms_consent": traits.get("sms_consent", traits.get("smsConsent")),
        "attributes": traits,
        "updated_at": occurred_at,
    }
    return customer_adapter.validate_python({k: v for k, v in candidate.items() if v is not None})


def _order_from_track(message: SegmentMessage, occurred_at: datetime) -> OrderIn:
    props = message.get("properties", {})
    products = props.get("products")
    if not isinstance(products, list):
        products = []
    return order_adapter.validate_python(
        {
            "external_id": props.get("order_id", props.get("orderId")),
            "customer_external_id": message.get("userId"),
            "amount": props.get("total", props.get("revenue")),
            "currency": props.get("currency", "USD"),
            "items": [
                {
                    "sku": product.get("sku", product.get("product_id")),
                    "name": product.get("name"),
                    "quantity": product.get("quantity", 1),
                    "price": product.get("price"),
                }
                for product in products
                if isinstance(product, dict)
            ],
            "ordered_at": occurred_at,
            "updated_at": occurred_at,
        }
    )


def _event_record(message: SegmentMessage, occurred_at: datetime) -> EventRecord:
    kind = message["type"]
    if kind == "identify":
        properties = identify_traits(message)
    elif kind == "group":
        properties = {"group_id": message.get("groupId"), **message.get("traits", {})}
    elif kind == "alias":
        properties = {"previous_id": message.get("previousId")}
    else:
        properties = message.get("properties", {})
    return {
        "message_id": message.get("messageId") or str(uuid.uuid4()),
        "customer_external_id": message.get("userId"),
        "anonymous_id": message.get("anonymousId"),
        "type": kind,
        "name": message.get("event") if kind == "track" else message.get("name"),
        "properties": properties,
        "context": message.get("context", {}),
        "occurred_at": occurred_at,  # orjson writes it as ISO 8601, several times faster than isoformat()
    }


def with_context(message: Any, context: dict[str, Any]) -> Any:
    """A message with its batch's context under its own (its own keys win)."""
    if not context or not isinstance(message, dict):
        return message
    own = message.get("context")
    return {**message, "context": {**context, **own} if isinstance(own, dict) else context}


class Mapped(NamedTuple):
    """Segment messages mapped onto records: the batch, why the others were refused, and the batch as JSON (what
    `orjson.dumps` writes) when the screen for what Postgres cannot store wrote it (None otherwise)."""

    batch: Batch
    problems: list[ItemProblem]
    encoded: bytes | None


class _Refused(Exception):
    """Why a message cannot be kept, raised while mapping it: refusals are rare, and the messages kept pay nothing
    for a `try` that does not raise."""

    def __init__(self, problems: list[ItemProblem]) -> None:
        self.problems = problems


def _records_of(
    message: SegmentMessage, index: int, received_at: datetime, sent_at: datetime | None
) -> tuple[tuple[str, Any] | None, EventRecord]:
    """The records of one valid-looking message: the customer or order it makes (with its table), if any, and its
    event; `_Refused` if it cannot be kept."""
    refusal = _refusal(message)
    if refusal:
        raise _Refused([ItemProblem(index, *refusal)])
    try:
        occurred_at = _occurred_at(message, received_at, sent_at)
    except ValueError as error:
        field = "timestamp" if message.get("timestamp") else "originalTimestamp"
        raise _Refused([ItemProblem(index, field, str(error))]) from None
    kind = message["type"]
    other: tuple[str, Any] | None = None
    try:
        if kind == "identify" and message.get("userId"):
            other = ("customers", _customer_from_identify(message, occurred_at).to_record(received_at))
        elif kind == "track" and message.get("event") == ORDER_COMPLETED:
            if not message.get("userId"):
                raise _Refused([ItemProblem(index, "userId", "an order needs the userId of its customer")])
            other = ("orders", _order_from_track(message, occurred_at).to_record(received_at))
    except ValidationError as error:
        prefix = "traits" if kind == "identify" else "properties"
        problems = [ItemProblem(p.index, f"{prefix}.{p.field}", p.message) for p in problems_of(index, error)]
        raise _Refused(problems) from None
    return other, _event_record(message, occurred_at)


def _check_size(event: EventRecord, index: int) -> None:
    if len(orjson.dumps(event)) > MAX_MESSAGE_BYTES:
        raise _Refused([ItemProblem(index, "(item)", f"a message is limited to {MAX_MESSAGE_BYTES} bytes")])


def _batch_of(others: list[tuple[int, str, Any]], events: list[EventRecord]) -> Batch:
    batch = empty_batch()
    for _, table, record in others:
        batch[table].append(record)  # type: ignore[literal-required]
    batch["events"] = events
    return batch


def _unstorable_events(kept: list[tuple[int, SegmentMessage]], events: list[EventRecord]) -> list[ItemProblem]:
    """Why the `events` of the `kept` messages (index and message) cannot be stored (holding what Postgres cannot
    store), once the screen of their batch flagged it: each event screened on its own, and a flagged one looked at
    again in its message, to name the field."""
    flagged = [kept[n] for n, event in enumerate(events) if json_problem(event) is not None]
    return [problem for index, message in flagged if (problem := unstorable(index, message))]


def to_batch(
    messages: list[Any],
    received_at: datetime,
    sent_at: datetime | None = None,
    body_bytes: int = 0,
    validated: bool = False,
) -> Mapped:
    """Map Segment messages onto records (validating each first unless `validated`); the bad ones come back as
    problems, in the order of the messages. Messages are held to Segment's size limit one by one only when the body
    they came in could break it.

    The records are screened for what Postgres cannot store as one batch: the event record carries every value of
    its message that reaches Postgres (an identify's traits, an order's properties), so only when the screen flags
    the batch are the events looked at one by one. The screen writes the batch as JSON, kept for its stream entry.
    """
    problems: list[ItemProblem] = []
    kept: list[tuple[int, SegmentMessage]] = []
    events: list[EventRecord] = []  # one per kept message
    others: list[tuple[int, str, Any]] = []  # the customers and orders some make: message index, table, record
    check_sizes = body_bytes > MAX_MESSAGE_BYTES
    for index, raw in enumerate(messages):
        if validated:
            message: SegmentMessage = raw
        else:
            try:
                message = message_adapter.validate_python(raw)
            except ValidationError as error:
                refused = unstorable(index, raw)
                problems.extend([refused] if refused else problems_of(index, error))
                continue
        try:
            other, event = _records_of(message, index, received_at, sent_at)
            if check_sizes:
                _check_size(event, index)
        except _Refused as refusal:
            problems.extend(refusal.problems)
            continue
        if other is not None:
            others.append((index, *other))
        kept.append((index, message))
        events.append(event)
    batch = _batch_of(others, events)
    encoded = storable_json(batch, levels=2)
    if encoded is None and (unstorable_events := _unstorable_events(kept, events)):
        refused_indexes = {problem.index for problem in unstorable_events}
        batch = _batch_of(
            [other for other in others if other[0] not in refused_indexes],
            [event for (index, _), event in zip(kept, events, strict=True) if index not in refused_indexes],
        )
        problems = sorted([*problems, *unstorable_events], key=lambda problem: problem.index)
    return Mapped(batch, problems, encoded)
