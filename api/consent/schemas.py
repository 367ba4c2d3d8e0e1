"""What the consent routes take and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.consent.preferences import ConsentChange, Preferences
from engine.consent.suppression import Reason, Suppression
from engine.postgres_safe import PostgresText


class SuppressionIn(BaseModel):
    """An address to suppress on a channel by hand."""

    model_config = ConfigDict(extra="forbid")

    channel: str = Field(min_length=1, max_length=40)
    address: PostgresText = Field(min_length=1, max_length=320)
    reason: Reason = "manual"
    detail: PostgresText | None = Field(None, max_length=500)


class SuppressionOut(BaseModel):
    """An address on the suppression list (`address` is null once its customer was erased: only its hash is kept)."""

    id: int
    channel: str
    address: str | None
    reason: str
    source: str
    detail: str | None
    customer_id: int | None
    campaign_id: int | None
    created_at: datetime

    @classmethod
    def of(cls, found: Suppression) -> SuppressionOut:
        return cls(**found.__dict__)


class TopicIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: PostgresText = Field(min_length=1, max_length=200)
    description: PostgresText = Field("", max_length=1000)


class TopicOut(BaseModel):
    key: str
    name: str
    description: str


class ConsentChangeOut(BaseModel):
    id: int
    channel: str | None
    topic: str | None
    subscribed: bool
    source: str
    detail: dict[str, Any]
    created_at: datetime


class ConsentOut(BaseModel):
    """Per channel asking consent: whether the customer may be messaged on it (`blocked` says why not, when their
    address is suppressed); per topic, whether they are in it; and every change, newest first."""

    customer_id: int
    channels: dict[str, bool]
    blocked: dict[str, str]
    topics: dict[str, bool]
    history: list[ConsentChangeOut]

    @classmethod
    def of(cls, current: Preferences, changes: list[ConsentChange]) -> ConsentOut:
        return cls(
            customer_id=current.customer_id,
            channels=current.channels,
            blocked=current.blocked,
            topics=current.topics,
            history=[ConsentChangeOut(**change.__dict__) for change in changes],
        )


class ConsentUpdate(BaseModel):
    """Channels and topics to set (true: subscribed); those left out are kept."""

    model_config = ConfigDict(extra="forbid")

    channels: dict[str, bool] = Field(default_factory=dict, max_length=20)
    topics: dict[str, bool] = Field(default_factory=dict, max_length=200)
    note: PostgresText | None = Field(None, max_length=500)
