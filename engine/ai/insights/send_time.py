"""Smart send time: the hour of the day at which a campaign's audience has had the most messages delivered.

From past delivery outcomes (messages sent in the last `HISTORY_DAYS` that were delivered or failed),
each put in the hour it was sent in the customer's own time zone (the features' `timezone`; the
settings' default for customers without a valid one). Only hours outside the quiet hours, with at least
`MIN_HOUR_OUTCOMES` messages, compete; at least two must, so the answer has a runner-up to be better
than. When the audience's own history is too thin, everyone's is used, and the answer says so; when
that is too thin as well there is no suggestion, only the evidence and why. The lead over the runner-up
is called clear when a two-proportion z-test puts it beyond chance (|z| >= 1.96, about 95%).

A campaign's audience is its frozen rule (once launched), else its inline rule or saved segment's rule,
evaluated on the snapshot the caller holds; a rule that no longer fits the snapshot, or no snapshot,
means all customers' history, with a note. This is a read of the log and a group-by, quick enough to
answer on the request path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

import polars as pl
from sqlalchemy import Engine

from engine.ai.insights.history import delivery_outcomes
from engine.campaigns.progress import Campaign
from engine.segments import RuleError, UnsupportedRule, parse_rule
from engine.segments.polars_backend import PolarsEvaluator
from engine.segments.store import get_segment
from engine.settings import Settings

HISTORY_DAYS = 180
MIN_HOUR_OUTCOMES = 30
CLEAR_Z = 1.96


@dataclass(frozen=True)
class HourEvidence:
    """Messages sent in one local hour: how many have an outcome, how many were delivered, the rate in percent."""

    hour: int
    sent: int
    delivered: int
    rate: float | None
    quiet: bool
    enough: bool


@dataclass(frozen=True)
class SendTime:
    """The suggested hour (None without enough evidence), one sentence saying why, and the evidence."""

    hour: int | None
    summary: str
    basis: str  # "audience" or "all customers": whose history the evidence is
    sample: int  # messages with an outcome behind the evidence
    hours: tuple[HourEvidence, ...]
    since: datetime
    runner_up: int | None = None
    lead_points: float | None = None
    clear: bool = False
    notes: tuple[str, ...] = ()

    def output(self) -> dict[str, Any]:
        """The answer as the API and the call log give it."""
        return {
            "hour": self.hour,
            "summary": self.summary,
            "basis": self.basis,
            "sample": self.sample,
            "runner_up": self.runner_up,
            "lead_points": self.lead_points,
            "clear": self.clear,
            "since": self.since.isoformat(),
            "hours": [vars(hour) for hour in self.hours],
            "notes": list(self.notes),
        }


def campaign_send_time(
    db: Engine, settings: Settings, campaign: Campaign, evaluator: PolarsEvaluator | None, now: datetime | None = None
) -> SendTime:
    """The send-time suggestion for the campaign's audience, on the snapshot of `evaluator` (None: none yet)."""
    since = (now or datetime.now(UTC)) - timedelta(days=HISTORY_DAYS)
    notes: list[str] = []
    audience = _audience(db, campaign, evaluator, notes)
    zones = None
    if evaluator is not None and "timezone" in evaluator.features.columns:
        zones = evaluator.features.select("customer_id", "timezone")
    answer = suggest_send_time(
        delivery_outcomes(db, since),
        zones,
        audience,
        since=since,
        default_timezone=settings.default_timezone,
        quiet_start=settings.quiet_hours_start,
        quiet_end=settings.quiet_hours_end,
    )
    return replace(answer, notes=(*notes, *answer.notes))


def _audience(db: Engine, campaign: Campaign, evaluator: PolarsEvaluator | None, notes: list[str]) -> pl.Series | None:
    """The ids of the campaign's audience on the evaluator's snapshot; None (with a note why) for everyone."""
    if evaluator is None:
        notes.append(
            "No feature snapshot has been published: all customers' history is used, in the default time zone."
        )
        return None
    data = campaign.frozen_rule or campaign.audience_rule
    if data is None and campaign.segment_id is not None:
        segment = get_segment(db, campaign.segment_id)
        data = None if segment is None else segment.rule
    if data is None:
        notes.append("The campaign names no audience rule, so all customers' history is used.")
        return None
    try:
        return evaluator.members(parse_rule(data, evaluator.catalog))["customer_id"]
    except (RuleError, UnsupportedRule) as error:
        reason = f"The campaign's audience rule does not fit the current snapshot ({error})"
        notes.append(f"{reason}; all customers' history is used.")
        return None


def suggest_send_time(
    outcomes: pl.DataFrame,
    zones: pl.DataFrame | None,
    audience: pl.Series | None,
    *,
    since: datetime,
    default_timezone: str,
    quiet_start: time | None,
    quiet_end: time | None,
) -> SendTime:
    """The best hour for `audience` (customer ids; None for everyone) from `outcomes` (customer_id, status,
    sent_at) and the customers' time zones in `zones` (customer_id, timezone; None: all in the default)."""
    local = local_hours(outcomes, zones, default_timezone)
    notes: list[str] = []
    if audience is not None:
        mine = local.filter(pl.col("customer_id").is_in(audience.implode()))
        evidence = hour_evidence(mine, quiet_start, quiet_end)
        if _contenders(evidence):
            return _answer(evidence, mine.height, "audience", since, notes)
        notes.append(
            f"The audience's own history is too thin ({mine.height:,} messages with an outcome since "
            f"{since:%d %b %Y}), so the suggestion is from all customers' history."
        )
    return _answer(hour_evidence(local, quiet_start, quiet_end), local.height, "all customers", since, notes)


def local_hours(outcomes: pl.DataFrame, zones: pl.DataFrame | None, default_timezone: str) -> pl.DataFrame:
    """`outcomes` with `hour`: the hour of the day each was sent at in its customer's time zone."""
    if zones is None:
        zoned = outcomes.with_columns(zone=pl.lit(default_timezone))
    else:
        known = pl.col("timezone").cast(pl.String)
        zoned = outcomes.join(zones, on="customer_id", how="left").with_columns(
            zone=pl.when(known.is_in(sorted(_valid_zones()))).then(known).otherwise(pl.lit(default_timezone))
        )
    parts = [
        group.select("customer_id", "status", pl.col("sent_at").dt.convert_time_zone(str(zone)).dt.hour().alias("hour"))
        for (zone,), group in zoned.group_by("zone")
    ]
    empty = pl.DataFrame(schema={"customer_id": pl.Int64(), "status": pl.String(), "hour": pl.Int8()})
    return pl.concat([empty, *parts]) if parts else empty


def hour_evidence(local: pl.DataFrame, quiet_start: time | None, quiet_end: time | None) -> tuple[HourEvidence, ...]:
    """All 24 hours, each with its messages, deliveries and rate (one decimal)."""
    counted = local.group_by("hour").agg(
        pl.len().alias("sent"), (pl.col("status") == "delivered").sum().alias("delivered")
    )
    by_hour = {int(hour): (int(sent), int(delivered)) for hour, sent, delivered in counted.iter_rows()}
    evidence = []
    for hour in range(24):
        sent, delivered = by_hour.get(hour, (0, 0))
        rate = round(100 * delivered / sent, 1) if sent else None
        quiet = quiet_hour(hour, quiet_start, quiet_end)
        evidence.append(HourEvidence(hour, sent, delivered, rate, quiet, sent >= MIN_HOUR_OUTCOMES))
    return tuple(evidence)


def quiet_hour(hour: int, start: time | None, end: time | None) -> bool:
    """Whether any of the hour falls in the quiet hours (which may span midnight; unset or equal: none)."""
    if start is None or end is None or start == end:
        return False
    begins = time(hour)
    if start < end:
        inside = start <= begins < end
    else:
        inside = begins >= start or begins < end
    return inside or (start.hour == hour and start.minute > 0)


def _contenders(evidence: tuple[HourEvidence, ...]) -> list[HourEvidence]:
    """The hours that may be suggested, best first: outside quiet hours, with enough messages, at least two."""
    eligible = [hour for hour in evidence if hour.enough and not hour.quiet]
    ranked = sorted(eligible, key=lambda hour: (-hour.delivered / hour.sent, -hour.sent, hour.hour))
    return ranked if len(ranked) >= 2 else []


def _answer(evidence: tuple[HourEvidence, ...], sample: int, basis: str, since: datetime, notes: list[str]) -> SendTime:
    contenders = _contenders(evidence)
    if not contenders:
        enough = sum(hour.enough and not hour.quiet for hour in evidence)
        hours = "hour" if enough == 1 else "hours"
        summary = (
            f"Not enough evidence to suggest a send hour: {sample:,} messages with a known outcome since "
            f"{since:%d %b %Y}, and {enough} {hours} outside the quiet hours with at least {MIN_HOUR_OUTCOMES} of "
            "them; at least two such hours are needed to compare."
        )
        return SendTime(None, summary, basis, sample, evidence, since, notes=tuple(notes))
    best, runner_up = contenders[0], contenders[1]
    assert best.rate is not None
    assert runner_up.rate is not None
    lead = round(best.rate - runner_up.rate, 1)
    clear = _z(best, runner_up) >= CLEAR_Z
    summary = (
        f"Send at {best.hour:02d}:00 in each customer's time zone: {best.rate:g}% of {best.sent:,} messages sent "
        f"then were delivered, {lead:g} points more than at {runner_up.hour:02d}:00, the next best "
        f"({runner_up.rate:g}% of {runner_up.sent:,})."
    )
    if not clear:
        summary += " The lead is small enough to be chance."
    return SendTime(best.hour, summary, basis, sample, evidence, since, runner_up.hour, lead, clear, tuple(notes))


def _z(best: HourEvidence, other: HourEvidence) -> float:
    """The two-proportion z statistic of best's delivery rate over the other's."""
    pooled = (best.delivered + other.delivered) / (best.sent + other.sent)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / best.sent + 1 / other.sent))
    if spread == 0:
        return 0.0
    return (best.delivered / best.sent - other.delivered / other.sent) / spread


@lru_cache(maxsize=1)
def _valid_zones() -> frozenset[str]:
    return frozenset(available_timezones())
