"""The JSON the vendor simulator reads and writes on its send, stats and admin endpoints."""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from typing_extensions import TypedDict

from engine.channels import ChannelName

Reference = str | int
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class OutgoingMessage(TypedDict):
    """One message to send; `reference` is the client's own id, echoed back in every receipt.

    A typed dict rather than a model: validating a million of these is on the delivery benchmark's path,
    and plain dicts validate at less than half the cost. `idempotency_key` is required, except that a
    single send may give it in the `Idempotency-Key` header instead.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    channel: ChannelName
    to: Annotated[str, StringConstraints(min_length=1, max_length=320)]
    body: Annotated[str, StringConstraints(min_length=1, max_length=100_000)]
    subject: NotRequired[Annotated[str, StringConstraints(max_length=1_000)] | None]
    idempotency_key: NotRequired[IdempotencyKey]
    reference: NotRequired[Reference | None]


class BatchSend(TypedDict):
    """A batch send: every message must carry its own `idempotency_key`."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    messages: Annotated[list[OutgoingMessage], Field(min_length=1)]


class SendResult(BaseModel):
    """What became of one message; `duplicate` is true when its idempotency key had been seen before."""

    vendor_message_id: str
    idempotency_key: str
    duplicate: bool


class BatchResult(BaseModel):
    """The results in the order of the request's messages."""

    messages: list[SendResult]
    accepted: int = Field(description="messages sent by this request")
    duplicates: int = Field(description="messages suppressed because their key had been seen before")


MAX_STATUS_IDS = 1_000


class StatusQuery(TypedDict):
    """The messages to look up, by the ids the vendor gave them."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    ids: Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=255)]],
                   Field(min_length=1, max_length=MAX_STATUS_IDS)]  # fmt: skip


class MessageStatus(BaseModel):
    """What became of a message as the vendor knows it now, shaped like its receipt; `unknown` for an id the
    vendor never gave or has forgotten (with the message's idempotency key)."""

    vendor_message_id: str
    reference: Reference | None
    status: Literal["sent", "delivered", "failed", "unknown"]
    reason: str | None
    permanent: bool | None = Field(description="for a failed message: whether sending again cannot succeed")
    occurred_at: str | None = Field(description="when the message reached its status")


class StatusBatch(BaseModel):
    """One status per id asked about, in the order asked."""

    messages: list[MessageStatus]


class Stats(BaseModel):
    """Counters since start (or the last reset): enough to prove nothing was sent or receipted twice."""

    sent: int = Field(description="distinct messages actually sent")
    duplicates_suppressed: int
    outcomes: dict[str, int] = Field(description="final outcome decided per sent message: delivered, failed")
    responses: dict[str, int] = Field(description="send requests by answer: accepted, 5xx, 429, timeout")
    receipts_pending: int = Field(description="receipts not yet acknowledged or dropped (waiting, retrying, posting)")
    receipts_posted: int = Field(description="receipts in callbacks the CRM acknowledged, repeats included")
    receipts_posted_by_status: dict[str, int]
    receipts_dropped: int = Field(description="receipts given up after the last attempt or a 4xx")
    callbacks_posted: int = Field(description="acknowledged callback requests")
    callback_failures: int = Field(description="callback attempts that failed (to be retried or dropped)")
    status_lookups: int = Field(description="messages asked about through the status endpoints")


class Health(BaseModel):
    status: Literal["ok"] = "ok"
