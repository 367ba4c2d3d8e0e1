"""The facts behind campaign insights, computed with Polars: every number an insight may say, and nothing else.

From the campaign's communication log joined to its recipients' features: the overall delivery rate,
the rate in spend, recency and city bands (only bands with at least `MIN_OUTCOMES` messages whose outcome
is known), how the campaign compares with its creator's other finished campaigns (all, and on its
channel), and the most common failure and skip reasons. A delivery rate is delivered / (delivered +
failed): messages still on their way or skipped have no outcome yet and count for neither.

Each fact has a stable id, a label and its values as exact numbers, rounded the way they are printed
(`Fact.printed`): rates and shares in whole percent, gaps in whole percentage points taken between the
printed rates. Sentences refer to a value as `{fact_id.key}` (`engine.ai.insights.placeholders`), so the
numbers in an insight are always these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

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
CHANNEL_NAMES = {"sms": "SMS", "email": "e-mail"}


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
        return {"label": self.label, **{key: _printed(key, value) for key, value in self.values.items()}}

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "label": self.label, "values": self.values, "printed": self.printed}


def _printed(key: str, value: int | str) -> str:
    if isinstance(value, str):
        return value
    if key in ("rate", "share"):
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
    if isinstance(rate, int) and features is not None:
        outcomes = log.filter(pl.col("status").is_in(["delivered", "failed"])).join(
            features.with_columns(in_snapshot=pl.lit(True)), on="customer_id", how="left"
        )
        outcomes = outcomes.with_columns(pl.col("in_snapshot").fill_null(False))
        if "total_spend" in outcomes.columns:
            facts += _band_facts(outcomes, "spend", spend_bands(currency), rate)
        if "days_since_last_order" in outcomes.columns:
            facts += _band_facts(outcomes, "recency", recency_bands(), rate)
        if "city" in outcomes.columns:
            facts += _city_facts(outcomes, rate)
    if isinstance(rate, int):
        facts += _comparison_facts(others, channel, rate)
    facts += _reason_facts(log, "failed", "failure_reason", "failure")
    facts += _reason_facts(log, "skipped", "skip_reason", "skip")
    return facts


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
        values["rate"] = percent(delivered, delivered + failed)
    return Fact("overall", "overall", "this campaign", values)


def _rated(delivered: int, failed: int, overall_rate: int) -> dict[str, int | str]:
    """A group's counts, its rate, and how many points above or below the campaign's it is."""
    rate = percent(delivered, delivered + failed)
    versus = "above" if rate > overall_rate else "below" if rate < overall_rate else "level with"
    return {
        "outcomes": delivered + failed,
        "delivered": delivered,
        "failed": failed,
        "rate": rate,
        "points": abs(rate - overall_rate),
        "versus": versus,
    }


def _counted(frame: pl.DataFrame, key: pl.Expr) -> pl.DataFrame:
    """Per value of `key`: `outcomes` and `delivered`, largest first (ties by key, so the order is stable)."""
    return (
        frame.group_by(key.alias("key"))
        .agg(pl.len().alias("outcomes"), (pl.col("status") == "delivered").sum().alias("delivered"))
        .drop_nulls("key")
        .filter(pl.col("outcomes") >= MIN_OUTCOMES)
        .sort(["outcomes", "key"], descending=[True, False])
    )


def _band_facts(outcomes: pl.DataFrame, kind: str, bands: Sequence[_Band], overall_rate: int) -> list[Fact]:
    band_of = pl.coalesce(pl.when(band.condition).then(pl.lit(band.id)) for band in bands)  # the first that fits
    counted = {key: (total, delivered) for key, total, delivered in _counted(outcomes, band_of).iter_rows()}
    facts = []
    for band in bands:  # in the bands' own order (low to high), not by size
        if band.id in counted:
            total, delivered = counted[band.id]
            facts.append(Fact(band.id, kind, band.label, _rated(delivered, total - delivered, overall_rate)))
    return facts


def _city_facts(outcomes: pl.DataFrame, overall_rate: int) -> list[Fact]:
    counted = _counted(outcomes, pl.col("city").cast(pl.String)).head(MAX_CITIES)
    return [
        Fact(f"city_{rank}", "city", f"customers in {city}", _rated(delivered, total - delivered, overall_rate))
        for rank, (city, total, delivered) in enumerate(counted.iter_rows(), start=1)
    ]


def _comparison_facts(others: pl.DataFrame, channel: str, overall_rate: int) -> list[Fact]:
    """The creator's other finished campaigns: all of them, and those on this campaign's channel if that differs."""
    groups = [("others", "your other finished campaigns", others)]
    same_channel = others.filter(pl.col("channel") == channel)
    if same_channel.height and same_channel.height < others.height:
        label = f"your other finished {CHANNEL_NAMES.get(channel, channel)} campaigns"
        groups.append((f"others_{channel}", label, same_channel))
    facts = []
    for fact_id, label, group in groups:
        delivered, failed = int(group["delivered"].sum()), int(group["failed"].sum())
        if delivered + failed >= MIN_OUTCOMES:
            values = {"campaigns": int(group["campaigns"].sum()), **_rated(delivered, failed, overall_rate)}
            facts.append(Fact(fact_id, "comparison", label, values))
    return facts


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
