"""What the segment routes take and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.config import JsonDict

from api.reach import ReachOut
from api.snapshot import SnapshotOut
from engine.channels import ChannelName
from engine.postgres_safe import NO_NUL, PostgresText
from engine.segments.evaluation import Explanation
from engine.segments.history import SizeRecord
from engine.segments.store import SavedSegment

RULE_DESCRIPTION = "A segment rule as JSON; its language is `GET /v1/segments/schema`, its fields `GET /v1/features`."
_RULE_EXAMPLE: JsonDict = {
    "and": [
        {"field": "total_spend", "op": ">", "value": 10000},
        {"field": "city", "op": "in", "value": ["Mumbai", "Delhi"]},
        {"event": "purchase", "op": "at least", "count": 2, "within_days": 90},
    ]
}


class SegmentIn(BaseModel):
    """A segment to save."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Loyal big spenders", "description": "", "rule": _RULE_EXAMPLE}]},
    )

    name: PostgresText = Field(min_length=1, max_length=200)
    description: PostgresText = Field("", max_length=2000)
    rule: dict[str, Any] = Field(description=RULE_DESCRIPTION)


class SegmentChange(BaseModel):
    """What to change in a saved segment; what is left out stays."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=200), NO_NUL] | None = None
    description: Annotated[str, StringConstraints(max_length=2000), NO_NUL] | None = None
    rule: dict[str, Any] | None = Field(None, description=RULE_DESCRIPTION)


class OwnerOut(BaseModel):
    id: int
    email: str


class SizeOut(BaseModel):
    """A segment's size at one snapshot; entered and left count against its previous record (null on the first)."""

    snapshot_version: int
    snapshot_taken_at: datetime
    size: int
    entered: int | None
    left: int | None
    recorded_at: datetime

    @classmethod
    def of(cls, record: SizeRecord) -> SizeOut:
        return cls(
            snapshot_version=record.snapshot_version,
            snapshot_taken_at=record.snapshot_taken_at,
            size=record.size,
            entered=record.entered_count,
            left=record.left_count,
            recorded_at=record.recorded_at,
        )


class SegmentOut(BaseModel):
    """A saved segment, with its rule read as a sentence and its latest recorded size."""

    id: int
    name: str
    description: str
    rule: dict[str, Any]
    sentence: str
    owner: OwnerOut | None
    latest_size: SizeOut | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, segment: SavedSegment, sentence: str, latest: SizeRecord | None) -> SegmentOut:
        owner = None
        if segment.owner_id is not None and segment.owner_email is not None:
            owner = OwnerOut(id=segment.owner_id, email=segment.owner_email)
        return cls(
            id=segment.id,
            name=segment.name,
            description=segment.description,
            rule=segment.rule,
            sentence=sentence,
            owner=owner,
            latest_size=SizeOut.of(latest) if latest else None,
            created_at=segment.created_at,
            updated_at=segment.updated_at,
        )


class PreviewIn(BaseModel):
    """An unsaved rule to preview."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"rule": _RULE_EXAMPLE}]})

    rule: dict[str, Any] = Field(description=RULE_DESCRIPTION)
    sample_size: int = Field(10, ge=0, le=100, description="How many members to show (the lowest customer ids).")
    channel: ChannelName | None = Field(
        None, description="Given: the answer's `reach` says who of the audience a campaign on it would message."
    )


class PreviewOut(BaseModel):
    """How many customers the rule matches, how many each part of it matches, and who some of them are."""

    size: int
    clause_counts: dict[str, int] = Field(
        description='Customers matching each node of the rule, by its path ("" is the whole rule, then '
        '"and[0]", "and[0].or[1]", ...).'
    )
    funnel: list[int] = Field(
        default_factory=list,
        description="Customers matching the top group's first clause, then its first two, and so on (an AND "
        "narrows, an OR widens); empty for a rule that is not a group.",
    )
    sample: list[dict[str, Any]]
    sentence: str
    snapshot: SnapshotOut
    reach: ReachOut | None = None
    warnings: list[str] = Field(
        default_factory=list,
        description="What in the rule is allowed but probably wrong: an event no customer has performed (a typo?), "
        "with the event names known.",
    )


class MembersPage(BaseModel):
    """Members in customer-id order; pass `next_cursor` as `cursor` for the next page (null: no more)."""

    members: list[dict[str, Any]]
    next_cursor: int | None
    snapshot: SnapshotOut


class ExplanationOut(BaseModel):
    """Whether the customer is in the segment, and each node of its rule evaluated for them."""

    segment_id: int
    customer_id: int
    in_segment: bool
    explanation: Explanation
    snapshot: SnapshotOut


class SizeHistoryOut(BaseModel):
    segment_id: int
    sizes: list[SizeOut]


class ChangeSide(BaseModel):
    count: int
    customer_ids: list[int] = Field(description="The first `limit` of them, ascending.")


class ChangesOut(BaseModel):
    """Who entered and who left the segment between two recorded snapshots; `since` is null when `until` is the
    segment's first record (nobody has entered or left yet)."""

    segment_id: int
    since: SizeOut | None
    until: SizeOut
    entered: ChangeSide
    left: ChangeSide
