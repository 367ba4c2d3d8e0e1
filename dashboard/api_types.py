"""What the API answers and takes, as the dashboard reads and sends it: one `TypedDict` per JSON object.

The dashboard may not import `api` (tests/test_import_direction.py), and the shapes are the API's, not the
engine's (counts, ages and pages are made in `api/*/schemas.py`), so they are declared here for the dashboard's
side of the wire. JSON objects stay dicts (pages show them as tables as they are); times stay the ISO 8601 text
the API sends. tests/dashboard/test_api_types.py holds every key here to the API's OpenAPI document.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

CampaignMove = Literal["pause", "resume", "cancel", "unschedule", "relaunch"]

# --- pipelines ---


class StreamState(TypedDict):
    name: str
    group: str
    undelivered: int
    pending: int
    oldest_entry_at: str | None
    lag_seconds: float | None


class SnapshotStatus(TypedDict):
    version: int
    taken_at: str
    created_at: str
    age_seconds: float
    customers: int
    events: int


class RunSummary(TypedDict):
    run_id: str
    job: str
    status: str
    created_at: str
    started_at: str | None
    ended_at: str | None
    run_key: str | None
    tags: dict[str, str]
    reason: str | None


class LaunchTrouble(TypedDict):
    campaign_id: int
    name: str
    status: str
    attempts: int
    reason: str | None
    updated_at: str


class PipelinesStatus(TypedDict):
    checked_at: str
    streams: list[StreamState]
    dead_letters_waiting: int
    snapshot: SnapshotStatus | None
    runs: list[RunSummary]
    runs_unavailable: str | None
    launches: list[LaunchTrouble]


class DeadLetter(TypedDict):
    id: int
    stream_entry_id: str
    kind: str
    payload: str
    error: str
    failed_at: str
    replayed_at: str | None


# --- campaigns ---


class Counts(TypedDict):
    pending: int
    queued: int
    sent: int
    delivered: int
    failed: int
    skipped: int
    total: int


class Campaign(TypedDict):
    id: int
    name: str
    channel: str
    template: str
    subject: str | None
    html_template: str | None
    segment_id: int | None
    audience_rule: Any
    frozen_rule: Any
    snapshot_version: str | None
    audience_size: int | None
    status: str
    failure_reason: str | None
    scheduled_at: str | None
    launched_at: str | None
    completed_at: str | None
    created_by: int | None
    parent_campaign_id: int | None
    created_at: str
    updated_at: str
    launch_attempts: int
    launch_error: str | None
    topic: str | None
    counts: Counts


class CampaignForm(TypedDict):
    """A draft as the Campaigns page's form holds it: what creating or changing one sends."""

    name: str
    channel: str
    template: str
    subject: str | None
    html_template: str | None
    segment_id: int | None


class PreviewAsked(TypedDict):
    """An unsaved message and its audience, to preview."""

    template: str
    subject: str | None
    html_template: str | None
    segment_id: int | None
    channel: str


class Reach(TypedDict):
    channel: str
    audience: int
    receiving: int
    held: int
    skipped: dict[str, int]


class PreviewMessage(TypedDict):
    customer_id: int
    message: str | None
    subject: str | None
    html: str | None
    error: str | None
    characters: int | None
    parts: int | None


class CampaignPreview(TypedDict):
    audience_size: int
    messages: list[PreviewMessage]
    snapshot_version: int
    reach: Reach | None


class TimelinePoint(TypedDict):
    at: str
    sent: int
    delivered: int
    failed: int


class Timeline(TypedDict):
    bucket_s: int
    points: list[TimelinePoint]


class LoggedMessage(TypedDict):
    id: int
    customer_id: int
    channel: str
    address: str | None
    message: str | None
    subject: str | None
    status: str
    reason: str | None
    vendor_message_id: str | None
    attempts: int
    created_at: str
    queued_at: str | None
    sent_at: str | None
    delivered_at: str | None
    failed_at: str | None


class MessagesPage(TypedDict):
    messages: list[LoggedMessage]
    next_cursor: int | None


class RetryableFailures(TypedDict):
    retrying: int
    left_out: dict[str, int]


class FollowUp(TypedDict):
    retrying: int
    left_out: dict[str, int]
    follow_up: int


class Engagement(TypedDict):
    campaign_id: int
    opened: int
    clicked: int
    clicks: int
    conversions: int
    revenue: str


# --- segments ---


class SegmentOwner(TypedDict):
    id: int
    email: str


class SegmentSize(TypedDict):
    snapshot_version: int
    snapshot_taken_at: str
    size: int
    entered: int | None
    left: int | None
    recorded_at: str


class Segment(TypedDict):
    id: int
    name: str
    description: str
    rule: dict[str, Any]
    sentence: str
    owner: SegmentOwner | None
    latest_size: SegmentSize | None
    created_at: str
    updated_at: str


class ExplanationNode(TypedDict):
    path: str
    sentence: str
    matched: bool
    field: str | None
    value: Any
    event_count: int | None
    children: list[ExplanationNode]


class SnapshotRef(TypedDict):
    version: int
    taken_at: str
    customers: int


class Explanation(TypedDict):
    segment_id: int
    customer_id: int
    in_segment: bool
    explanation: ExplanationNode
    snapshot: SnapshotRef


class SegmentForm(TypedDict):
    """A segment as the builder holds it: what saving or changing one sends."""

    name: str
    description: str
    rule: dict[str, Any]


class SegmentPreview(TypedDict):
    size: int
    clause_counts: dict[str, int]
    funnel: list[int]
    sample: list[dict[str, Any]]
    sentence: str
    snapshot: SnapshotRef
    reach: Reach | None
    warnings: list[str]


class SizeHistory(TypedDict):
    segment_id: int
    sizes: list[SegmentSize]


class CatalogFeature(TypedDict):
    name: str
    type: str
    label: str
    description: str
    examples: list[Any]
    operators: list[str]


class FeatureCatalog(TypedDict):
    snapshot: SnapshotRef | None
    features: list[CatalogFeature]


class FeatureValue(TypedDict):
    value: Any
    customers: int


class FeatureValues(TypedDict):
    name: str
    values: list[FeatureValue]
    snapshot: SnapshotRef


# --- customers ---


class Customer(TypedDict):
    id: int
    external_id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    city: str | None
    created_at: str


class CustomerSearchPage(TypedDict):
    customers: list[Customer]
    next_cursor: int | None


class SegmentRef(TypedDict):
    id: int
    name: str


class CustomerProfile(TypedDict):
    customer: dict[str, Any]
    orders: list[dict[str, Any]]
    recent_events: list[dict[str, Any]]
    features: dict[str, Any] | None
    segments: list[SegmentRef] | None
    snapshot: SnapshotRef | None


class Erasure(TypedDict):
    customer_id: int
    removed: dict[str, int]
    suppressed: int


# --- AI ---


class AiJob(TypedDict):
    id: str
    kind: str
    status: Literal["queued", "running", "done", "failed"]
    result: dict[str, Any] | None
    error: str | None
    created_at: str
    finished_at: str | None


class Assumption(TypedDict):
    words: str
    meaning: str


class SkippedWords(TypedDict):
    start: int
    end: int
    text: str
    reason: str


class RuleSuggestion(TypedDict):
    """A rule drafted from plain language, read back, with what was assumed or left out on the way."""

    rule: dict[str, Any]
    english: str
    count: int | None
    assumptions: list[Assumption]
    skipped: list[SkippedWords]
    questions: list[str]
    provider: str
    model: str | None
    repaired: bool
    notes: list[str]
    call_id: int


class MessagesAsked(TypedDict):
    """What the AI is to write messages for."""

    objective: str
    channel: str
    segment_id: int | None
    brand: NotRequired[str]


class Variant(TypedDict):
    tone: str
    subject: str | None
    body: str
    variables: list[str]
    longest_length: int | None
    sms_limit: int | None


class SuggestedAudience(TypedDict):
    size: int
    summary: str


class MessageSuggestions(TypedDict):
    variants: list[Variant]
    intent: str
    offer: list[str]
    audience: SuggestedAudience | None
    provider: str
    model: str | None
    notes: list[str]
    call_id: int


class HourOutcomes(TypedDict):
    hour: int
    sent: int
    delivered: int
    rate: float | None
    quiet: bool
    enough: bool


class SendTime(TypedDict):
    campaign_id: int
    hour: int | None
    summary: str
    basis: Literal["audience", "all customers"]
    sample: int
    runner_up: int | None
    lead_points: float | None
    clear: bool
    since: str
    hours: list[HourOutcomes]
    notes: list[str]
    call_id: int


# --- admin ---


class User(TypedDict):
    id: int
    email: str
    name: str | None
    role: str
    created_at: str
    last_sign_in_at: str | None
    disabled: bool


class TokenPair(TypedDict):
    """A signed-in session's tokens and who it is."""

    access_token: str
    refresh_token: str
    expires_in: int
    user: User


class WriteKey(TypedDict):
    id: int
    name: str
    prefix: str
    scope: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class CreatedKey(TypedDict):
    key: WriteKey
    secret: str


class AuditEntry(TypedDict):
    id: int
    at: str
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]
    ip: str | None
