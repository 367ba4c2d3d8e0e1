"""Request and response bodies of the AI routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from engine.ai.calls import AICall
from engine.channels import ChannelName
from engine.postgres_safe import NO_NUL

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1_000), NO_NUL]
Color = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
Tone = Literal["friendly", "urgent", "premium"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RuleRequest(_Body):
    text: Text = Field(examples=["customers who spent over ₹10K but ordered fewer than 3 times"])


class AssumptionOut(BaseModel):
    words: str = Field(description="The vague words as written, e.g. “VIPs”.")
    meaning: str = Field(description="The team's term they were read as, e.g. “total spend of ₹50,000 or more”.")


class SkippedOut(BaseModel):
    start: int = Field(description="Where the words start in the request (characters).")
    end: int
    text: str
    reason: str


class RuleSuggestionOut(BaseModel):
    """A valid rule, read back in English, with its audience count on the current snapshot (if there is one),
    what was assumed and skipped on the way, and the questions to confirm them."""

    rule: dict[str, Any]
    english: str
    count: int | None
    assumptions: list[AssumptionOut]
    skipped: list[SkippedOut]
    questions: list[str]
    provider: str
    model: str | None
    repaired: bool
    notes: list[str]
    call_id: int


class MessagesRequest(_Body):
    objective: Text = Field(examples=["bring back inactive users with 20% off, code COMEBACK"])
    channel: ChannelName
    audience_rule: dict[str, Any] | None = Field(None, description="A segment rule, as `POST /v1/segments` takes.")
    segment_id: Id | None = Field(None, description="A saved segment, instead of `audience_rule`.")
    brand: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60), NO_NUL] | None = None
    tones: list[Tone] = Field(["friendly", "urgent", "premium"], min_length=2, max_length=3)


class VariantOut(BaseModel):
    tone: str
    subject: str | None
    body: str = Field(description="A template of the campaign template language.")
    variables: list[str]
    longest_length: int | None = Field(None, description="SMS: characters as the longest recipient gets it.")
    sms_limit: int | None = None


class AudienceOut(BaseModel):
    size: int
    summary: str


class MessagesOut(BaseModel):
    variants: list[VariantOut]
    intent: str
    offer: list[str] = Field(description="The objective's offer as every variant states it, e.g. “up to 40% off”.")
    audience: AudienceOut | None
    provider: str
    model: str | None
    notes: list[str]
    call_id: int


class ImageRequestIn(_Body):
    message: Text
    width: int = Field(1200, ge=256, le=2048)
    height: int = Field(628, ge=256, le=2048)
    colors: list[Color] | None = Field(
        None, min_length=1, max_length=4, description="Brand colours; settings' default."
    )
    brand: Annotated[str, StringConstraints(strip_whitespace=True, max_length=60), NO_NUL] | None = None
    call_to_action: Annotated[str, StringConstraints(strip_whitespace=True, max_length=30), NO_NUL] | None = "Shop now"
    campaign_id: Id | None = None


class JobOut(BaseModel):
    id: str
    kind: str
    status: Literal["queued", "running", "done", "failed"]
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class HourOut(BaseModel):
    hour: int = Field(description="Hour of the day, in each customer's time zone.")
    sent: int = Field(description="Messages sent in this hour whose outcome is known.")
    delivered: int
    rate: float | None = Field(description="Delivered, in percent of `sent`.")
    quiet: bool = Field(description="Inside the quiet hours: never suggested.")
    enough: bool = Field(description="Enough messages for the hour to be compared.")


class SendTimeOut(BaseModel):
    """A suggested send hour (null when the history is too thin to say), why, and the evidence per hour."""

    campaign_id: int
    hour: int | None
    summary: str
    basis: Literal["audience", "all customers"]
    sample: int
    runner_up: int | None
    lead_points: float | None
    clear: bool = Field(description="Whether the lead over the runner-up is beyond chance (95%).")
    since: datetime
    hours: list[HourOut]
    notes: list[str]
    call_id: int


class CallsOut(BaseModel):
    calls: list[AICall]


class FeedbackIn(_Body):
    accepted: bool
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2_000), NO_NUL] | None = None
