"""What a campaign's audience looks like, in a few facts a message can be shaped by.

Computed with Polars from the matching customers' feature rows: how many, what they spend, where most of
them live, how long since they last ordered, how many may be reached on the channel, and the longest
first name (an SMS must fit 160 characters for every recipient, not only for "Ada").
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from engine.channels import CHANNELS


@dataclass(frozen=True)
class AudienceProfile:
    """Facts about an audience; a fact is None when the snapshot has no such feature or no value."""

    size: int
    average_spend: float | None = None
    average_order_value: float | None = None
    top_city: str | None = None
    top_city_share: float | None = None
    top_country: str | None = None
    median_days_since_last_order: float | None = None
    reachable: int | None = None  # customers who consented to the channel
    longest_values: tuple[tuple[str, str], ...] = ()  # per text feature, its longest value in the audience

    def longest(self, feature: str) -> str | None:
        return dict(self.longest_values).get(feature)

    def summary(self, currency: str) -> str:
        """One line for people: "1,204 customers; average spend ₹5,430; 62% in Mumbai; 980 reachable"."""
        parts = [f"{self.size:,} customers"]
        if self.average_spend is not None:
            parts.append(f"average spend {currency}{self.average_spend:,.0f}")
        if self.top_city is not None and self.top_city_share is not None:
            parts.append(f"{self.top_city_share:.0%} in {self.top_city}")
        if self.median_days_since_last_order is not None:
            parts.append(f"median {self.median_days_since_last_order:,.0f} days since the last order")
        if self.reachable is not None:
            parts.append(f"{self.reachable:,} reachable on this channel")
        return "; ".join(parts)


def profile_audience(members: pl.DataFrame, channel: str) -> AudienceProfile:
    """The profile of the customers in `members` (their feature rows) for a campaign on `channel`."""
    columns = set(members.columns)
    facts: dict[str, object] = {"size": members.height}
    if members.is_empty():
        return AudienceProfile(size=0)
    if "total_spend" in columns:
        facts["average_spend"] = members["total_spend"].mean()
    if "average_order_value" in columns:
        facts["average_order_value"] = members["average_order_value"].mean()
    if "days_since_last_order" in columns:
        facts["median_days_since_last_order"] = members["days_since_last_order"].median()
    for field in ("city", "country"):
        if field in columns:
            counts = members[field].cast(pl.String).drop_nulls().value_counts(sort=True)
            if counts.height:
                top, count = counts.row(0)
                facts[f"top_{field}"] = top
                if field == "city":
                    facts["top_city_share"] = count / members.height
    consent = CHANNELS[channel].consent if channel in CHANNELS else None
    if consent in columns:
        facts["reachable"] = int(members[consent].fill_null(False).sum())
    longest = []
    for field in ("first_name", "last_name", "city"):
        if field in columns:
            values = members[field].cast(pl.String).drop_nulls()
            if values.len():
                longest.append((field, str(values[values.str.len_chars().arg_max() or 0])))
    return AudienceProfile(longest_values=tuple(longest), **facts)  # type: ignore[arg-type]
