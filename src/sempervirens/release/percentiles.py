"""Timing percentiles from a timing's released histogram (post-processing, no budget).

The histogram is `timing_users` of one metric: installations per public bucket
(one per doubling of the duration).  Negative noisy counts are clamped to 0; the
p-th percentile is the first bucket where the cumulative count reaches p% of the
total.  Its 95% interval is a parametric bootstrap: the percentile of the released
histogram with fresh noise of the same scale drawn by OpenDP, 200 times, and the
2.5% and 97.5% quantiles of those (approximate: it describes the noise, not the
choice of installations).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..model.statistics import PERCENTILES

REPLICATES = 200


def percentile(counts: Sequence[int], p: float) -> int | None:
    """Index of the bucket holding the p-th percentile of a (clamped) histogram."""
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


def with_intervals(counts: Sequence[int], scale: float,
                   replicates: int = REPLICATES) -> dict[int, tuple[int, int, int] | None]:
    """{p: (bucket, low, high)} for each of model.statistics.PERCENTILES."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    clamped = [max(0, int(c)) for c in counts]
    result: dict[int, tuple[int, int, int] | None] = {}
    if sum(clamped) == 0:
        return {p: None for p in PERCENTILES}
    # One call draws every replicate: the histogram repeated, noised as one vector.
    width = len(clamped)
    draw = dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T="i64")),
                             dp.l1_distance(T="i64"), scale=scale)
    drawn = draw(clamped * replicates)
    samples: dict[int, list[int]] = {p: [] for p in PERCENTILES}
    for r in range(replicates):
        redrawn = drawn[r * width:(r + 1) * width]
        for p in PERCENTILES:
            value = percentile(redrawn, p)
            samples[p].append(len(clamped) - 1 if value is None else value)
    for p in PERCENTILES:
        ordered = sorted(samples[p])
        low = ordered[int(0.025 * (replicates - 1))]
        high = ordered[int(round(0.975 * (replicates - 1)))]
        result[p] = (percentile(clamped, p), low, high)
    return result
