"""Timing percentiles from a timing's released histogram (post-processing, no budget).

The histogram is `timing_users` of one metric: installations per public bucket
(one per doubling of the duration).  A bucket whose noisy count is below the
half-width of its noise at level 1 - 5%/buckets (not distinguishable from an empty
bucket, even among all 51; negative counts included) counts as 0, so that the noise
of the many empty buckets does not drag the percentiles across the scale.  The p-th
percentile is the first bucket b where the cumulative count C(b) reaches p% of the total T.

Its 95% interval inverts a test: D(b) = C(b) - p T is a sum of the kept buckets'
counts with weights (1 - p) up to b and -p after, so its noise has variance
sd^2 ((1 - p)^2 j + p^2 (m - j)) with j of the m kept buckets up to b; `low` is the
first bucket where D(b) + 1.96 sd(b) >= 0 and `high` the first where
D(b) - 1.96 sd(b) >= 0 (normal approximation; it ignores which buckets were zeroed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..model.statistics import PERCENTILES
from .uncertainty import laplace_halfwidth, laplace_sd

_Z = 1.959963984540054


def significant(counts: Sequence[int], scale: float) -> list[int]:
    """The counts with those not significantly above 0 set to 0 (5% for all buckets)."""
    floor = max(1, laplace_halfwidth(scale, 1 - 0.05 / max(1, len(counts))))
    return [int(c) if c >= floor else 0 for c in counts]


def percentile(counts: Sequence[int], p: float) -> int | None:
    """Index of the bucket holding the p-th percentile of a histogram (negatives as 0)."""
    clamped = [max(0, int(c)) for c in counts]
    total = sum(clamped)
    if total == 0:
        return None
    goal = total * p / 100
    running = 0
    for index, count in enumerate(clamped):
        running += count
        if running >= goal:
            return index
    return len(clamped) - 1


def with_intervals(counts: Sequence[int], scale: float) -> dict[int, tuple[int, int, int] | None]:
    """{p: (bucket, low, high)} for each of model.statistics.PERCENTILES, or None if empty."""
    kept = significant(counts, scale)
    total = sum(kept)
    if total == 0:
        return {p: None for p in PERCENTILES}
    sd = laplace_sd(scale)
    m = sum(1 for c in kept if c)
    result = {}
    for p in PERCENTILES:
        share = p / 100
        running, j, low, high = 0, 0, None, None
        for index, count in enumerate(kept):
            running += count
            j += 1 if count else 0
            d = running - share * total
            spread = _Z * sd * math.sqrt((1 - share) ** 2 * j + share ** 2 * (m - j))
            if low is None and d + spread >= 0:
                low = index
            if high is None and d - spread >= 0:
                high = index
        last = len(kept) - 1
        result[p] = (percentile(kept, p), last if low is None else low,
                     last if high is None else high)
    return result
