"""Where a launch finds its audience: a feature snapshot to evaluate the rule on, and the saved segments.

Launch takes an `AudienceSource`: the product uses `PublishedAudience` (the newest published snapshot and
the saved segments in Postgres), tests and benchmarks hand in frames with `FrameAudience`. Evaluating
the rule once, at launch, on one snapshot is what freezes the audience. Relative conditions ("in the
last 30 days") are read as of the snapshot's time, as the segment preview the marketer saw read them.

A "retry the failed" follow-up goes to its parent's failed recipients whose failure was transient
(`retried_messages`); `retryable_failures` counts them, and the permanent ones left out by reason. A message the
sender failed without having read the vendor's acceptance (its answers were lost: the vendor may have it) is
re-sent under its parent's idempotency key, so a vendor that has it sends nothing; one the vendor took and then
reported failed (unreachable, mailbox full) gets a new key, so it is really tried again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import polars as pl
from sqlalchemy import Connection, Engine, text

from engine.campaigns.errors import AudienceMissing
from engine.campaigns.failures import NOT_ACCEPTED
from engine.features.snapshot import latest_snapshot
from engine.segments import dump_rule, parse_rule
from engine.segments.polars_backend import PolarsEvaluator
from engine.segments.store import get_segment


@dataclass(frozen=True)
class FeatureSnapshot:
    """One version of the customer features (one row per customer) and the events behind them."""

    version: str
    features: pl.DataFrame
    events: pl.DataFrame | pl.LazyFrame | None = None
    taken_at: datetime | None = None  # None: as of the launch


class AudienceSource(Protocol):
    """The snapshot a launch evaluates its rule on, and the rule of a saved segment."""

    def snapshot(self) -> FeatureSnapshot:
        """The snapshot to launch on; `LookupError` when there is none."""
        ...

    def segment_rule(self, segment_id: int) -> Any:
        """The segment's rule as JSON data; `LookupError` when there is no such segment."""
        ...


@dataclass(frozen=True)
class FrameAudience:
    """An audience source over frames already in memory (tests, benchmarks)."""

    features: pl.DataFrame
    events: pl.DataFrame | pl.LazyFrame | None = None
    version: str = "in-memory"
    segments: Mapping[int, Any] = field(default_factory=dict)

    def snapshot(self) -> FeatureSnapshot:
        return FeatureSnapshot(self.version, self.features, self.events)

    def segment_rule(self, segment_id: int) -> Any:
        try:
            return self.segments[segment_id]
        except KeyError:
            raise AudienceMissing(f"there is no segment {segment_id}") from None


@dataclass(frozen=True)
class PublishedAudience:
    """The newest published feature snapshot, and the saved segments."""

    db: Engine

    def snapshot(self) -> FeatureSnapshot:
        snapshot = latest_snapshot(self.db)
        if snapshot is None:
            raise AudienceMissing("no feature snapshot has been published yet: materialize customer_features first")
        return FeatureSnapshot(str(snapshot.version), snapshot.features, snapshot.events, snapshot.taken_at)

    def segment_rule(self, segment_id: int) -> Any:
        segment = get_segment(self.db, segment_id)
        if segment is None:
            raise AudienceMissing(f"there is no segment {segment_id}")
        return segment.rule


KEPT_KEYS = {"customer_id": pl.Int64, "idempotency_key": pl.String}


@dataclass(frozen=True)
class Recipients:
    """Who a campaign goes to on one snapshot (their feature rows), the rule (JSON) that chose them, and the
    idempotency keys some of them keep from the parent's messages (a follow-up's; null: a new key)."""

    members: pl.DataFrame
    rule: Any
    kept_keys: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=KEPT_KEYS))


@dataclass(frozen=True)
class CampaignAudience:
    """What a campaign says about its audience: a "retry the failed" follow-up's parent, else its inline rule,
    else its saved segment."""

    parent_campaign_id: int | None
    audience_rule: Any
    segment_id: int | None


def campaign_recipients(
    conn: Connection, audience: CampaignAudience, evaluator: PolarsEvaluator, segment_rule: Callable[[int], Any]
) -> Recipients:
    """The campaign's recipients on `evaluator`'s snapshot: the launch freezes these, and the preview shows them.

    A follow-up goes to its parent's failed recipients whose failure was transient (under the parent's frozen
    rule); any other campaign to the members of its rule. `segment_rule` gives a saved segment's rule
    (`LookupError` when it is gone).
    """
    if audience.parent_campaign_id is not None:
        rule = conn.execute(
            text("SELECT frozen_rule FROM campaigns WHERE id = :id"), {"id": audience.parent_campaign_id}
        ).scalar_one()
        retried = retried_messages(conn, audience.parent_campaign_id)
        members = evaluator.features.filter(pl.col("customer_id").is_in(retried["customer_id"].implode()))
        return Recipients(members, rule, retried)
    data = audience.audience_rule if audience.audience_rule is not None else segment_rule(audience.segment_id or 0)
    parsed = parse_rule(data, evaluator.catalog)
    return Recipients(evaluator.members(parsed), dump_rule(parsed))


# The one rule of "retry the failed": a failed message is re-sent when its failure was transient.
RETRYABLE = "failure_kind = 'transient'"
# A failure the sender recorded without having read the vendor's acceptance: the re-send keeps the key.
UNACKNOWLEDGED = "starts_with(reason, :not_accepted)"


def retried_messages(conn: Connection, campaign_id: int) -> pl.DataFrame:
    """What the campaign's "retry the failed" follow-up re-sends, in `KEPT_KEYS` columns: the customers whose message
    failed transiently (permanent failures, and any whose kind was not recorded, are left out), and the key each
    re-send keeps: the message's own when the vendor may have it (the sender never read its acceptance), else null
    (a new one)."""
    rows = conn.execute(
        text(
            f"SELECT customer_id, CASE WHEN {UNACKNOWLEDGED} THEN idempotency_key END FROM communication_log "
            f"WHERE campaign_id = :id AND status = 'failed' AND {RETRYABLE}"
        ),
        {"id": campaign_id, "not_accepted": NOT_ACCEPTED},
    ).all()
    return pl.DataFrame([tuple(row) for row in rows], schema=KEPT_KEYS, orient="row")


def retryable_recipients(conn: Connection, campaign_id: int) -> pl.Series:
    """The customers whose message in the campaign failed transiently: the audience of its "retry the failed"
    follow-up."""
    return retried_messages(conn, campaign_id)["customer_id"]


@dataclass(frozen=True)
class RetryableFailures:
    """A campaign's failed messages as "retry the failed" sees them: how many it re-sends (those that failed
    transiently), and how many it leaves out, by reason, most first."""

    retrying: int
    left_out: dict[str, int]


def retryable_failures(conn: Connection, campaign_id: int) -> RetryableFailures:
    """Count the campaign's failures that a retry re-sends (the same rule as `retryable_recipients`) and those
    it leaves out, by reason."""
    counts = conn.execute(
        text(
            f"SELECT ({RETRYABLE}) IS TRUE, COALESCE(reason, 'no reason given'), count(*) "
            "FROM communication_log WHERE campaign_id = :id AND status = 'failed' "
            "GROUP BY 1, 2 ORDER BY 3 DESC, 2"
        ),
        {"id": campaign_id},
    ).all()
    return RetryableFailures(
        retrying=sum(count for retried, _, count in counts if retried),
        left_out={reason: count for retried, reason, count in counts if not retried},
    )
