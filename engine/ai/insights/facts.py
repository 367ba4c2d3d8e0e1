"""The facts behind campaign insights, computed with Polars: every number an insight may say, and nothing else.

From the campaign's communication log joined to its recipients' features: the overall delivery rate,
the rate in spend, recency and city bands (only bands with at least `MIN_OUTCOMES` messages whose outcome
is known), how the campaign compares with its creator's other finished campaigns (all, and on its
channel), and the most common failure and skip reasons; beside them, who opened and clicked and the orders
attributed to the campaign (`engagement_facts`). A delivery rate is delivered / (delivered +
failed): messages still on their way or skipped have no outcome yet and count for neither.

Every rate carries its 95% Wilson interval (`low`, `high`; printed together as `interval`). Every group
compared with something (a band with the campaign's other recipients, the sender's other campaigns with
this one) is tested, all of a campaign's comparisons as one family (`engine.ai.insights.chance`): only a
group whose difference is beyond chance has a gap (`points`) and a direction (`versus`: above or below);
the others' `versus` is "within chance of", so no sentence can state a difference chance explains.

Each fact has a stable id, a label and its values as exact numbers, rounded the way they are printed
(`Fact.printed`): rates and shares in whole percent (interval ends rounded outwards), gaps in whole
percentage points taken between the printed rates. Sentences refer to a value as `{fact_id.key}`
(`engine.ai.insights.placeholders`), so the numbers in an insight are always these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import polars as pl

from engine.ai.insights.chance import Comparison, beyond_chance, wilson_interval
from engine.channels import CHANNELS
from engine.engagement.analytics import CampaignEngagement

MIN_OUTCOMES = 30  # messages with a known outcome a band needs before its rate is worth saying
MAX_CITIES = 5
MAX_REASONS = 3
SPEND_EDGES = (1_000, 10_000)
RECENCY_EDGES = (30, 90)  # days since the last order

LOG_SCHEMA = pl.Schema({"customer_id": pl.Int64(), "status": pl.String(), "reason": pl.String()})
OTHERS_SCHEMA = pl.Schema(
    {"channel": pl.String(), "campaigns": pl.Int64(), "delivered": pl.Int64(), "failed": pl.Int64()}
)
FEATURE_COLUMNS = ("customer_id", "total_spend", "city", "country", "days_since_last_order")
COMPARED_KINDS = frozenset({"spend", "recency", "city", "comparison"})  # facts tested against the campaign
WITHIN_CHANCE = "within chance of"


@dataclass(frozen=True)
class Fact:
    """One computed fact: `values` are its numbers (and direction words); `printed` is how each reads."""

    id: str
    kind: str  # overall, spend, recency, city, comparison, failure_reason, skip_reason
    label: str
    values: dict[str, int | str]

    @property
    def printed(self) -> dict[str, str]:
        """Each value as a sentence shows it, and the label: what a placeholder `{id.key}` becomes."""
        printed = {"label": self.label, **{key: _printed(key, value) for key, value in self.values.items()}}
        if "low" in self.values and "high" in self.values:
            printed["interval"] = f"{self.values['low']}–{self.values['high']}% with 95% confidence"
        return printed

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "label": self.label, "values": self.values, "printed": self.printed}


def _printed(key: str, value: int | str) -> str:
    if isinstance(value, str):
        return value
    if key in ("rate", "share", "low", "high"):
        return f"{value}%"
    if key == "points":
        return f"{value} point" if value == 1 else f"{value} points"
    return f"{value:,}"


def percent(part: int, whole: int) -> int:
    """`part` of `whole` in whole percent, halves rounded up (so 94.5% prints as 95%, never as banker's 94%)."""
    return (200 * part + whole) // (2 * whole)


@dataclass(frozen=True)
class _Band:
    id: str
    label: str
    condition: pl.Expr


def spend_bands(currency: str) -> tuple[_Band, ...]:
    low, high = SPEND_EDGES
    spend = pl.col("total_spend")
    return (
        _Band("spend_low", f"customers who spent under {currency}{low:,}", spend < low),
        _Band("spend_mid", f"customers who spent {currency}{low:,} to {currency}{high:,}", spend.is_between(low, high)),
        _Band("spend_high", f"customers who spent over {currency}{high:,}", spend > high),
    )


def recency_bands() -> tuple[_Band, ...]:
    recent, lapsed = RECENCY_EDGES
    days = pl.col("days_since_last_order")
    return (
        _Band("recency_recent", f"customers whose last order was in the last {recent} days", days <= recent),
        _Band(
            "recency_lapsing",
            f"customers whose last order was {recent + 1} to {lapsed} days ago",
            days.is_between(recent + 1, lapsed),
        ),
        _Band("recency_lapsed", f"customers whose last order was over {lapsed} days ago", days > lapsed),
        _Band("recency_never", "customers who have never ordered", days.is_null() & pl.col("in_snapshot")),
    )


@dataclass(frozen=True)
class _Group:
    """A group compared with the campaign, before its test: what its fact will say, and the comparison."""

    id: str
    kind: str
    label: str
    comparison: Comparison
    extra: dict[str, int | str]  # values besides the counts (the number of campaigns)


def campaign_facts(
    log: pl.DataFrame, features: pl.DataFrame | None, others: pl.DataFrame, *, channel: str, currency: str
) -> list[Fact]:
    """The facts of one campaign.

    `log` has the campaign's rows (`LOG_SCHEMA`); `features` the customers' feature rows (any of
    `FEATURE_COLUMNS`; None without a snapshot); `others` the creator's other finished campaigns per
    channel (`OTHERS_SCHEMA`).
    """
    overall = _overall(log)
    facts = [overall]
    rate = overall.values.get("rate")
    if isinstance(rate, int):
        delivered, failed = int(overall.values["delivered"]), int(overall.values["failed"])
        groups = [] if features is None else _band_groups(log, features, currency, delivered, failed)
        groups += _comparison_groups(others, channel, delivered, failed)
        differs = beyond_chance([group.comparison for group in groups])
        facts += [_group_fact(group, beyond, rate) for group, beyond in zip(groups, differs, strict=True)]
    facts += _reason_facts(log, "failed", "failure_reason", "failure")
    facts += _reason_facts(log, "skipped", "skip_reason", "skip")
    return facts


def engagement_facts(engagement: CampaignEngagement, currency: str) -> list[Fact]:
    """Who opened and clicked the campaign's e-mails, and the orders attributed to it (`engine.engagement`); none
    when nobody did any of that."""
    values = {name: getattr(engagement, name) for name in ("opened", "clicked", "clicks", "conversions")}
    if not any(values.values()):
        return []
    revenue = f"{currency}{engagement.revenue:,.2f}"
    return [Fact("engagement", "engagement", "this campaign", {**values, "revenue": revenue})]


def _overall(log: pl.DataFrame) -> Fact:
    counts = dict(log["status"].value_counts().iter_rows())
    delivered, failed = counts.get("delivered", 0), counts.get("failed", 0)
    values: dict[str, int | str] = {
        "messages": log.height,
        "delivered": delivered,
        "failed": failed,
        "outcomes": delivered + failed,
        "awaiting": sum(counts.get(status, 0) for status in ("pending", "queued", "sent")),
        "skipped": counts.get("skipped", 0),
    }
    if delivered + failed:
        values.update(_rate(delivered, failed))
    return Fact("overall", "overall", "this campaign", values)


def _rate(delivered: int, failed: int) -> dict[str, int | str]:
    """The delivery rate in whole percent, and its 95% interval with the ends rounded outwards."""
    low, high = wilson_interval(delivered, delivered + failed)
    return {
        "rate": percent(delivered, delivered + failed),
        "low": math.floor(100 * low + 1e-9),
        "high": math.ceil(100 * high - 1e-9),
    }


def _group_fact(group: _Group, beyond: bool, overall_rate: int) -> Fact:
    """A group's counts and rate; a gap and its direction only when its difference is beyond chance."""
    counts = group.comparison
    rated = _rate(counts.delivered, counts.failed)
    values: dict[str, int | str] = {
        **group.extra,
        "outcomes": counts.delivered + counts.failed,
        "delivered": counts.delivered,
        "failed": counts.failed,
        **rated,
        "versus": WITHIN_CHANCE,
    }
    points = abs(int(rated["rate"]) - overall_rate)
    if beyond and points:
        values["points"] = points
        values["versus"] = "above" if int(rated["rate"]) > overall_rate else "below"
    return Fact(group.id, group.kind, group.label, values)


def _counted(frame: pl.DataFrame, key: pl.Expr) -> pl.DataFrame:
    """Per value of `key`: `outcomes` and `delivered`, largest first (ties by key, so the order is stable)."""
    return (
        frame.group_by(key.alias("key"))
        .agg(pl.len().alias("outcomes"), (pl.col("status") == "delivered").sum().alias("delivered"))
        .drop_nulls("key")
        .filter(pl.col("outcomes") >= MIN_OUTCOMES)
        .sort(["outcomes", "key"], descending=[True, False])
    )


def _band_groups(log: pl.DataFrame, features: pl.DataFrame, currency: str, delivered: int, failed: int) -> list[_Group]:
    """The spend, recency and city bands with enough outcomes, each against the campaign's other recipients."""
    outcomes = log.filter(pl.col("status").is_in(["delivered", "failed"])).join(
        features.with_columns(in_snapshot=pl.lit(True)), on="customer_id", how="left"
    )
    outcomes = outcomes.with_columns(pl.col("in_snapshot").fill_null(False))
    found: list[tuple[str, str, str, int, int]] = []  # id, kind, label, outcomes, delivered
    banded = (("total_spend", "spend", spend_bands(currency)), ("days_since_last_order", "recency", recency_bands()))
    for column, kind, bands in banded:
        if column not in outcomes.columns:
            continue
        band_of = pl.coalesce(pl.when(band.condition).then(pl.lit(band.id)) for band in bands)  # the first that fits
        counted = {key: (total, hits) for key, total, hits in _counted(outcomes, band_of).iter_rows()}
        for band in bands:  # in the bands' own order (low to high), not by size
            if band.id in counted:
                found.append((band.id, kind, band.label, *counted[band.id]))
    if "city" in outcomes.columns:
        cities = _counted(outcomes, pl.col("city").cast(pl.String)).head(MAX_CITIES).iter_rows()
        for rank, (city, total, hits) in enumerate(cities, start=1):
            found.append((f"city_{rank}", "city", f"customers in {city}", total, hits))
    return [
        _Group(band_id, kind, label, Comparison(hits, total - hits, delivered - hits, failed - (total - hits)), {})
        for band_id, kind, label, total, hits in found
    ]


def _comparison_groups(others: pl.DataFrame, channel: str, delivered: int, failed: int) -> list[_Group]:
    """The creator's other finished campaigns: all of them, and those on this campaign's channel if that differs;
    each against this campaign."""
    sets = [("others", "your other finished campaigns", others)]
    same_channel = others.filter(pl.col("channel") == channel)
    if same_channel.height and same_channel.height < others.height:
        label = f"your other finished {CHANNELS[channel].label if channel in CHANNELS else channel} campaigns"
        sets.append((f"others_{channel}", label, same_channel))
    groups = []
    for group_id, label, rows in sets:
        their_delivered, their_failed = int(rows["delivered"].sum()), int(rows["failed"].sum())
        if their_delivered + their_failed >= MIN_OUTCOMES:
            comparison = Comparison(their_delivered, their_failed, delivered, failed)
            campaigns: dict[str, int | str] = {"campaigns": int(rows["campaigns"].sum())}
            groups.append(_Group(group_id, "comparison", label, comparison, campaigns))
    return groups


def _reason_facts(log: pl.DataFrame, status: str, kind: str, prefix: str) -> list[Fact]:
    """The most common reasons for `status`, each with its count and share of all such messages."""
    rows = log.filter(pl.col("status") == status)
    if rows.is_empty():
        return []
    reasons = (
        rows.group_by(pl.col("reason").fill_null("no reason given"))
        .agg(pl.len().alias("count"))
        .sort(["count", "reason"], descending=[True, False])
        .head(MAX_REASONS)
    )
    return [
        Fact(f"{prefix}_{rank}", kind, reason, {"count": count, "share": percent(count, rows.height)})
        for rank, (reason, count) in enumerate(reasons.iter_rows(), start=1)
    ]
