"""Which differences in delivery rate are beyond chance, and how sure a rate is: the statistics behind insights.

A campaign's insights compare groups with the rest: each customer band (spend, recency, city) with the
campaign's other recipients, and the sender's other campaigns with this one. Every such comparison is a
two-sided two-proportion z-test with the pooled rate and Yates' continuity correction (without it the
test finds too much in small groups with rates near 100%, as simulated null campaigns show), and all of
a campaign's comparisons form one family corrected with Holm's step-down method (family-wise error at
most `ALPHA` under any dependence between the tests; bands of one kind share recipients with bands of
another). So when no group truly differs, a
campaign's insights state a difference in at most about 5% of campaigns, however many bands it has.

A stated rate carries its Wilson score interval (95%), which stays inside 0-100% and is honest for small
groups and rates near 100%, where the textbook normal interval is not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

ALPHA = 0.05
Z_95 = 1.959963984540054  # the two-sided 95% quantile of the standard normal


@dataclass(frozen=True)
class Comparison:
    """One group's outcomes against those of what it is compared with (the rest of the campaign, or it)."""

    delivered: int
    failed: int
    other_delivered: int
    other_failed: int


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion, as (low, high) fractions; (0, 1) without trials."""
    if trials == 0:
        return 0.0, 1.0
    share = successes / trials
    spread = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials))
    centre = share + z * z / (2 * trials)
    scale = 1 + z * z / trials
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


def p_value(comparison: Comparison) -> float:
    """The two-sided p-value of the two-proportion z-test (pooled) that both sides deliver at the same rate."""
    size = comparison.delivered + comparison.failed
    other_size = comparison.other_delivered + comparison.other_failed
    if size == 0 or other_size == 0:
        return 1.0
    pooled = (comparison.delivered + comparison.other_delivered) / (size + other_size)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / size + 1 / other_size))
    if spread == 0:
        return 1.0  # everyone delivered, or no one: nothing differs
    gap = abs(comparison.delivered / size - comparison.other_delivered / other_size)
    z = max(0.0, gap - (1 / size + 1 / other_size) / 2) / spread  # Yates' continuity correction
    return math.erfc(z / math.sqrt(2))


def holm(p_values: Sequence[float], alpha: float = ALPHA) -> list[bool]:
    """Which hypotheses Holm's step-down method rejects, in the order given."""
    rejected = [False] * len(p_values)
    ranked = sorted(range(len(p_values)), key=lambda index: p_values[index])
    for step, index in enumerate(ranked):
        if p_values[index] > alpha / (len(p_values) - step):
            break
        rejected[index] = True
    return rejected


def beyond_chance(comparisons: Sequence[Comparison], alpha: float = ALPHA) -> list[bool]:
    """For each comparison of one family, whether its difference is beyond chance after Holm's correction."""
    return holm([p_value(comparison) for comparison in comparisons], alpha)
