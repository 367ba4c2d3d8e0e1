"""What `GET /v1/channels` answers."""

from __future__ import annotations

from pydantic import BaseModel


class ChannelOut(BaseModel):
    """A channel: where a customer's address and consent are, what a message may hold, and how it goes."""

    name: str
    label: str
    address: str  # the customer feature holding the address
    consent: str | None  # the feature saying the customer agreed; null: the channel asks none
    subject_required: bool
    max_length: int | None  # characters, as the channel counts them
    transports: list[str]  # the transports that can carry it
    transport: str  # the one this installation uses
    writing: str  # how to write for it
