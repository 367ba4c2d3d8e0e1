"""The receipts a vendor posts, and the answer it gets."""

from __future__ import annotations

from typing import Literal, NotRequired

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool
from typing_extensions import TypedDict


class ReceiptIn(TypedDict):
    """What became of one message; `reference` is the message's log id, as the sender gave it.

    A failed receipt may say whether the failure is `permanent` (a hard bounce: sending again cannot succeed)
    or not (a soft bounce); when it does, that decides whether "retry the failed" sends to it again, whatever
    the reason says.
    """

    __pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[misc]

    vendor_message_id: str
    reference: int | str | None
    status: Literal["sent", "delivered", "failed"]
    reason: NotRequired[str | None]
    permanent: NotRequired[StrictBool | None]  # strict: the body goes on the stream as it came
    occurred_at: AwareDatetime


class ReceiptsAccepted(BaseModel):
    """The callback is on the receipts stream (or was already: `duplicate`)."""

    accepted: int = Field(description="receipts in this callback")
    duplicate: bool = Field(description="true when this webhook-id was accepted before; nothing was added")
