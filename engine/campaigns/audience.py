"""Where a launch finds its audience: a feature snapshot to evaluate the rule on, and the saved segments.

Launch takes an `AudienceSource`, so the product hands it the newest published snapshot and tests hand
it a frame they built. Evaluating the rule once, at launch, on one snapshot is what freezes the audience.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl


@dataclass(frozen=True)
class FeatureSnapshot:
    """One version of the customer features (one row per customer) and the events behind them."""

    version: str
    features: pl.DataFrame
    events: pl.DataFrame | pl.LazyFrame | None = None


class AudienceSource(Protocol):
    """The snapshot a launch evaluates its rule on, and the rule of a saved segment."""

    def snapshot(self) -> FeatureSnapshot: ...

    def segment_rule(self, segment_id: int) -> Any:
        """The segment's rule as JSON data; `LookupError` when there is no such segment."""
        ...


@dataclass(frozen=True)
class FrameAudience:
    """An audience source over frames already in memory (tests, benchmarks, a snapshot loaded elsewhere)."""

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
            raise LookupError(f"there is no segment {segment_id}") from None
