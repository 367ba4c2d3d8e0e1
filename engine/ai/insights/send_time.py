"""Smart send time: the hour of the day at which a campaign's audience has had the most messages delivered.

From past delivery outcomes on the campaign's channel (messages logged in the last `HISTORY_DAYS` that
were delivered or failed), each put in the hour it was sent in the customer's own time zone (the
features' `timezone`; the settings' default for customers without a valid one). Only hours outside the
quiet hours, with at least `MIN_HOUR_OUTCOMES` messages, compete; at least two must, so the answer has a
runner-up to be better than. When the audience's own history is too thin, everyone's is used, and the
answer says so; when that is too thin as well there is no suggestion, only the evidence and why. The lead
over the runner-up is called clear when a two-proportion z-test puts it beyond chance (|z| >= 1.96, about
95%).

Postgres counts the outcomes per customer and UTC quarter-hour of the day (`history.delivery_outcomes`);
here each customer's quarter-hours are moved to local time by their zone's UTC offset now. That is exact
for zones without daylight saving time (India's, for one), and an hour off for messages sent in the
other half of the year in zones with it: the price of letting Postgres count instead of sending every
message's timestamp. The work grows with the channel's messages in the window (one pass over them in
Postgres, then a join and a group-by over the per-customer counts): fine on the request path for what a
few months of campaigns leave in the log; a log with many millions of messages a month would want it on
the AI queue, like the insights.

A campaign's audience:
- a "retry the failed" follow-up's is its parent's failed recipients (as its launch picks them);
- else its frozen rule (once launched), its inline rule or its saved segment's rule, evaluated on the
  snapshot the caller holds; a rule that no longer fits the snapshot, or no snapshot, means all
  customers' history, with a note. A campaign whose saved segment has been deleted (and which was never
  launched) has no audience at all, and cannot be launched: `NoAudience` says so instead of an answer.

The features (time zones, rule fields) are the API's in-memory snapshot, the one every segment answer
uses, so the audience is the one the user sees counted. The insights read theirs from the snapshot files
instead (`campaign`): they run in the AI worker, another process, and want the snapshot the campaign was
launched on rather than the newest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import polars as pl
from sqlalchemy import Engine

from engine.ai.errors import AIError
from engine.ai.insights.history import delivery_outcomes
from engine.campaigns.audience import retryable_recipients
from engine.campaigns.progress import Campaign
from engine.errors import Conflict
from engine.segments import RuleError, UnsupportedRule, parse_rule
from engine.segments.polars_backend import PolarsEvaluator
from engine.segments.store import get_segment
from engine.settings import Settings

HISTORY_DAYS = 180
MIN_HOUR_OUTCOMES = 30
CLEAR_Z = 1.96
QUARTERS_A_DAY = 96


class NoAudience(AIError, Conflict):
    """The campaign has no audience to suggest a send hour for (its saved segment is gone)."""


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
    """The send-time suggestion for the campaign's audience, on the snapshot of `evaluator` (None: none yet).
    `NoAudience` when the campaign has none."""
    now = now or datetime.now(UTC)
    since = now - timedelta(days=HISTORY_DAYS)
    notes: list[str] = []
    audience = _audience(db, campaign, evaluator, notes)
    zones = None
    if evaluator is not None and "timezone" in evaluator.features.columns:
        zones = evaluator.features.select("customer_id", "timezone")
    answer = suggest_send_time(
        delivery_outcomes(db, since, campaign.channel),
        zones,
        audience,
        since=since,
        now=now,
        default_timezone=settings.default_timezone,
        quiet_start=settings.quiet_hours_start,
        quiet_end=settings.quiet_hours_end,
    )
    return replace(answer, notes=(*notes, *answer.notes))


def _audience(db: Engine, campaign: Campaign, evaluator: PolarsEvaluator | None, notes: list[str]) -> pl.Series | None:
    """The ids of the campaign's audience; None (with a note why) for everyone."""
    if campaign.parent_campaign_id is not None:
        with db.connect() as conn:
            failed = retryable_recipients(conn, campaign.parent_campaign_id)
        notes.append(
            f"The audience is the {failed.len():,} customers whose messages failed in campaign "
            f"{campaign.parent_campaign_id}, which this campaign retries."
        )
        if evaluator is None:
            notes.append("No feature snapshot has been published: their hours are in the default time zone.")
        return failed
    if evaluator is None:
        notes.append(
            "No feature snapshot has been published: all customers' history is used, in the default time zone."
        )
        return None
    data = campaign.frozen_rule or campaign.audience_rule
    if data is None and campaign.segment_id is not None:
        segment = get_segment(db, campaign.segment_id)
        if segment is None:
            raise NoAudience(
                f"campaign {campaign.id} is for segment {campaign.segment_id}, which has been deleted, so it has no "
                "audience to suggest a send hour for (and cannot be launched): give it a segment or a rule first"
            )
        data = segment.rule
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
    now: datetime,
    default_timezone: str,
    quiet_start: time | None,
    quiet_end: time | None,
) -> SendTime:
    """The best hour for `audience` (customer ids; None for everyone) from `outcomes` (`delivery_outcomes`)
    and the customers' time zones in `zones` (customer_id, timezone; None: all in the default)."""
    local = local_hours(outcomes, zones, default_timezone, now)
    notes: list[str] = []
    if audience is not None:
        evidence = hour_evidence(local.filter(pl.col("customer_id").is_in(audience.implode())), quiet_start, quiet_end)
        if _contenders(evidence):
            return _answer(evidence, "audience", since, notes)
        notes.append(
            f"The audience's own history is too thin ({_sample(evidence):,} messages with an outcome since "
            f"{since:%d %b %Y}), so the suggestion is from all customers' history."
        )
    return _answer(hour_evidence(local, quiet_start, quiet_end), "all customers", since, notes)


def local_hours(
    outcomes: pl.DataFrame, zones: pl.DataFrame | None, default_timezone: str, now: datetime
) -> pl.DataFrame:
    """`outcomes` with `hour`: the hour of the day they were sent at in the customer's time zone, by the zone's
    UTC offset at `now` (see the module's docstring for what that means under daylight saving time)."""
    if zones is None:
        zoned = outcomes.with_columns(zone=pl.lit(default_timezone))
    else:
        known = pl.col("timezone").cast(pl.String)
        zoned = outcomes.join(zones, on="customer_id", how="left").with_columns(
            zone=pl.when(known.is_in(sorted(_valid_zones()))).then(known).otherwise(pl.lit(default_timezone))
        )
    names = zoned["zone"].unique().to_list()
    offsets = pl.DataFrame(
        {"zone": names, "offset": [_offset_quarters(name, now) for name in names]},
        schema={"zone": pl.String(), "offset": pl.Int64()},
    )
    local_quarter = (pl.col("utc_quarter") + pl.col("offset") + QUARTERS_A_DAY) % QUARTERS_A_DAY
    return zoned.join(offsets, on="zone").select(
        "customer_id", "delivered", "failed", (local_quarter // 4).cast(pl.Int8).alias("hour")
    )


def _offset_quarters(zone: str, at: datetime) -> int:
    """The zone's offset from UTC at `at`, in quarter-hours (every zone's is a whole number of them today)."""
    offset = at.astimezone(ZoneInfo(zone)).utcoffset()
    assert offset is not None
    return int(offset.total_seconds()) // 900


def hour_evidence(local: pl.DataFrame, quiet_start: time | None, quiet_end: time | None) -> tuple[HourEvidence, ...]:
    """All 24 hours, each with its messages, deliveries and rate (one decimal)."""
    counted = local.group_by("hour").agg(pl.col("delivered").sum(), pl.col("failed").sum())
    by_hour = {int(hour): (int(delivered), int(failed)) for hour, delivered, failed in counted.iter_rows()}
    evidence = []
    for hour in range(24):
        delivered, failed = by_hour.get(hour, (0, 0))
        sent = delivered + failed
        rate = round(100 * delivered / sent, 1) if sent else None
        quiet = quiet_hour(hour, quiet_start, quiet_end)
        evidence.append(HourEvidence(hour, sent, delivered, rate, quiet, sent >= MIN_HOUR_OUTCOMES))
    return tuple(evidence)


def _sample(evidence: tuple[HourEvidence, ...]) -> int:
    return sum(hour.sent for hour in evidence)


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


def _answer(evidence: tuple[HourEvidence, ...], basis: str, since: datetime, notes: list[str]) -> SendTime:
    sample = _sample(evidence)
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
