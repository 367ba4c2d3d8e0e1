"""What the campaign routes take and answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from api.reach import ReachOut
from api.segments.schemas import RULE_DESCRIPTION
from engine.campaigns.communication_log import LoggedMessage, TimelinePoint
from engine.campaigns.progress import Campaign, MessageCounts
from engine.campaigns.seeds import MAX_SEEDS
from engine.campaigns.template_sandbox import MAX_HTML_CHARS
from engine.channels import ChannelName
from engine.postgres_safe import NO_NUL, PostgresText

TEMPLATE_DESCRIPTION = (
    "The message, personalised with customer features: `Hi {{ first_name | default('there') }}, ...`. "
    "Unknown variables and syntax errors are refused with their line and column. Money, numbers and dates: "
    "`{{ total_spend | money }}`, `{{ orders_count | number }}`, `{{ last_order_at | date }}`. May be empty for an "
    "e-mail with `html_template`: its text part is then read off the rendered HTML (links as `words (url)`)."
)
HTML_TEMPLATE_DESCRIPTION = (
    "Channels with `has_html` (`GET /v1/channels`; e-mail) only: the e-mail's HTML part, a template like `template` "
    "with every value HTML-escaped. What it renders is sanitised (no scripts, event handlers, `javascript:` links "
    "or `<style>`; inline `style` attributes keep layout properties); `template` stays the text part. Without it "
    f"the HTML part is made from `template`. At most {MAX_HTML_CHARS:,} characters, written or rendered (past "
    "about 102 kB Gmail clips a message)."
)
TOPIC_DESCRIPTION = "The subscription topic (`GET /v1/topics`): customers who left it are skipped with the reason."

# a time this little in the past is taken as now: the client's clock may run behind the server's
SCHEDULE_CLOCK_SKEW = timedelta(minutes=1)


class CampaignIn(BaseModel):
    """A campaign to save as a draft: its audience is a saved segment or an inline rule, not both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Win back big spenders",
                    "channel": "sms",
                    "template": "Hi {{ first_name | default('there') }}, here is 10% off on your next order!",
                    "segment_id": 1,
                }
            ]
        },
    )

    name: PostgresText = Field(min_length=1, max_length=200)
    channel: ChannelName
    template: str = Field(max_length=5000, description=TEMPLATE_DESCRIPTION)
    subject: str | None = Field(None, min_length=1, max_length=500, description="E-mail only; a template too.")
    html_template: str | None = Field(
        None, min_length=1, max_length=MAX_HTML_CHARS, description=HTML_TEMPLATE_DESCRIPTION
    )
    segment_id: int | None = Field(None, ge=1, le=2**63 - 1)
    audience_rule: dict[str, Any] | None = Field(None, description=RULE_DESCRIPTION)
    topic: str | None = Field(None, max_length=63, description=TOPIC_DESCRIPTION)


class CampaignChange(BaseModel):
    """What to change in a draft; what is left out stays. Giving `segment_id` or `audience_rule` replaces the
    audience (the other one is cleared)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=200), NO_NUL] | None = None
    channel: ChannelName | None = None
    template: str | None = Field(None, max_length=5000, description=TEMPLATE_DESCRIPTION)
    subject: str | None = Field(None, max_length=500, description="E-mail only; empty clears it.")
    html_template: str | None = Field(None, max_length=MAX_HTML_CHARS, description="E-mail only; empty clears it.")
    segment_id: int | None = Field(None, ge=1, le=2**63 - 1)
    audience_rule: dict[str, Any] | None = Field(None, description=RULE_DESCRIPTION)
    topic: str | None = Field(None, max_length=63, description=TOPIC_DESCRIPTION)

    @model_validator(mode="after")
    def _kept_fields_are_not_nulled(self) -> CampaignChange:
        nulled = [name for name in ("name", "channel", "template") if name in self.model_fields_set and
                  getattr(self, name) is None]  # fmt: skip
        if nulled:
            raise ValueError(f"{' and '.join(nulled)} cannot be null: leave it out to keep it")
        return self


class CountsOut(BaseModel):
    """A campaign's messages by status."""

    pending: int
    queued: int
    sent: int
    delivered: int
    failed: int
    skipped: int
    total: int

    @classmethod
    def of(cls, counts: MessageCounts) -> CountsOut:
        return cls(
            pending=counts.pending,
            queued=counts.queued,
            sent=counts.sent,
            delivered=counts.delivered,
            failed=counts.failed,
            skipped=counts.skipped,
            total=counts.total,
        )


class CampaignOut(BaseModel):
    """A campaign with its message counts; `frozen_rule`, `snapshot_version` and `audience_size` are set at
    launch, `parent_campaign_id` on a "retry the failed" follow-up. While its launch is being tried again,
    `launch_attempts` says how many attempts ended without launching it and `launch_error` why the last did; a
    launch given up on leaves it `failed` with `failure_reason`, and `POST .../relaunch` tries again."""

    id: int
    name: str
    channel: str
    template: str
    subject: str | None
    html_template: str | None = None
    segment_id: int | None
    audience_rule: Any
    frozen_rule: Any
    snapshot_version: str | None
    audience_size: int | None
    status: str
    failure_reason: str | None
    scheduled_at: datetime | None
    launched_at: datetime | None
    completed_at: datetime | None
    created_by: int | None
    parent_campaign_id: int | None
    created_at: datetime
    updated_at: datetime
    launch_attempts: int
    launch_error: str | None
    topic: str | None = None
    counts: CountsOut

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignOut:
        fields = {name: getattr(campaign, name) for name in cls.model_fields if name != "counts"}
        return cls(**fields, counts=CountsOut.of(campaign.counts))


class PreviewIn(BaseModel):
    """An unsaved message and audience to preview."""

    model_config = ConfigDict(extra="forbid")

    template: str = Field(max_length=5000, description=TEMPLATE_DESCRIPTION)
    subject: str | None = Field(None, min_length=1, max_length=500)
    html_template: str | None = Field(
        None, min_length=1, max_length=MAX_HTML_CHARS, description=HTML_TEMPLATE_DESCRIPTION
    )
    segment_id: int | None = Field(None, ge=1, le=2**63 - 1)
    audience_rule: dict[str, Any] | None = Field(None, description=RULE_DESCRIPTION)
    sample_size: int = Field(5, ge=1, le=50)
    channel: ChannelName | None = Field(None, description="Given: the answer says who would actually receive it.")
    topic: str | None = Field(None, max_length=63, description=TOPIC_DESCRIPTION)


class PreviewMessageOut(BaseModel):
    """What one sample member would get, or why it cannot be rendered for them."""

    customer_id: int
    message: str | None
    subject: str | None
    html: str | None = None  # the rendered, sanitised HTML template (before the open pixel and click links)
    error: str | None
    characters: int | None = Field(None, description="its length as the channel counts it, opt-out line included")
    parts: int | None = Field(None, description="the SMS segments it goes out in (1 on other channels)")


class PreviewOut(BaseModel):
    """The audience's size on the current snapshot, the messages of its first members, and (given a channel) how
    many of the audience a launch now would message after consent, suppression, frequency caps and quiet hours."""

    audience_size: int
    messages: list[PreviewMessageOut]
    snapshot_version: int
    reach: ReachOut | None = None


class ScheduleIn(BaseModel):
    """When to launch; omitted or null means now. A time in the past is refused rather than launched at once
    (a typo in the date would send today): to launch now, say so by leaving `at` out."""

    model_config = ConfigDict(extra="forbid")

    at: AwareDatetime | None = Field(None, description="An ISO 8601 time with its zone, not in the past.")

    @field_validator("at")
    @classmethod
    def _not_in_the_past(cls, at: datetime | None) -> datetime | None:
        if at is not None and at < datetime.now(UTC) - SCHEDULE_CLOCK_SKEW:
            raise ValueError(f"{at.isoformat()} is in the past; leave `at` out (or null) to launch now")
        return at


class NextLaunchOut(BaseModel):
    """When to schedule a campaign to launch at a suggested hour: that hour's next occurrence, in the zone asked."""

    at: AwareDatetime = Field(description="An ISO 8601 time in the zone asked, e.g. 2026-11-26T10:00:00+01:00.")


class MessagesPage(BaseModel):
    """A page of the communication log; pass `next_cursor` as `cursor` for the next (null on the last)."""

    messages: list[LoggedMessage] = Field(description="Each recipient's row of the communication log.")
    next_cursor: int | None


class TimelinePointOut(BaseModel):
    at: datetime
    sent: int
    delivered: int
    failed: int

    @classmethod
    def of(cls, point: TimelinePoint) -> TimelinePointOut:
        return cls(at=point.at, sent=point.sent, delivered=point.delivered, failed=point.failed)


class TimelineOut(BaseModel):
    """Messages sent, delivered and failed per bucket of `bucket_s` seconds, oldest first."""

    bucket_s: int
    points: list[TimelinePointOut]


class SeedsIn(BaseModel):
    """Seed addresses to send a test to, and whose features to render it with (default: the first member of the
    campaign's audience)."""

    model_config = ConfigDict(extra="forbid")

    addresses: list[Annotated[str, StringConstraints(min_length=1, max_length=320, strip_whitespace=True), NO_NUL]] = (
        Field(min_length=1, max_length=MAX_SEEDS)
    )
    customer_id: int | None = Field(None, ge=1, le=2**63 - 1)


class SeedResultOut(BaseModel):
    address: str
    sent: bool
    detail: str  # the provider's message id, or why it was not sent


class SeedsOut(BaseModel):
    """The test as rendered for the sample customer, and what became of it at each seed."""

    customer_id: int
    message: str
    subject: str | None
    results: list[SeedResultOut]
