"""Every published number says how exact it is: the noise's standard deviation and a 95%
interval that holds the true count in 95% of releases."""

from __future__ import annotations

import math

import opendp.prelude as dp
import pytest

from sempervirens.release import uncertainty
from sempervirens.release.percentiles import percentile, with_intervals

dp.enable_features("contrib")
DRAWS = 20_000
# A 95% coverage estimated from 20000 draws has standard error 0.0015; +-0.006 is 4 standard
# errors: a correct interval fails this test with probability below 1e-4.
TOLERANCE = 0.006


def draws(scale: float, true: int, n: int = DRAWS) -> list[int]:
    """OpenDP's discrete Laplace releases of one count, n times (one vector call)."""
    measurement = dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T="i64")),
                                    dp.l1_distance(T="i64"), scale=scale)
    return measurement([true] * n)


@pytest.mark.parametrize("scale", [0.7, 21.0, 280.0])
def test_the_standard_deviation_and_interval_match_opendps_noise(scale):
    true = 1000
    released = draws(scale, true)
    mean = sum(released) / len(released)
    sd = math.sqrt(sum((x - mean) ** 2 for x in released) / (len(released) - 1))
    assert sd == pytest.approx(uncertainty.laplace_sd(scale), rel=0.04)
    q = uncertainty.laplace_halfwidth(scale)
    covered = sum(1 for x in released if x - q <= true <= x + q) / len(released)
    # exact quantile of a discrete distribution: coverage >= 95%, and q - 1 would be < 95%
    assert covered >= 0.95 - TOLERANCE
    a = math.exp(-1 / scale)
    assert 1 - 2 * a ** q / (1 + a) < 0.95 <= 1 - 2 * a ** (q + 1) / (1 + a)
    assert covered <= 1 - 2 * a ** (q + 1) / (1 + a) + TOLERANCE


def test_a_week_of_days_is_covered_95_percent_of_the_time():
    scale, true_day, days, weeks = 56.0, 400, 7, DRAWS // 2
    released = draws(scale, true_day, weeks * days)
    sds = [uncertainty.laplace_sd(scale)] * days
    q = uncertainty.sum_halfwidth(sds)
    sums = [sum(released[i:i + days]) for i in range(0, len(released), days)]
    covered = sum(1 for s in sums if s - q <= true_day * days <= s + q) / len(sums)
    assert abs(covered - 0.95) < TOLERANCE * math.sqrt(2)  # half the draws: 4 standard errors
    assert uncertainty.sum_sd(sds) == pytest.approx(math.sqrt(days) * sds[0])


def test_a_withheld_value_keeps_an_interval_that_holds_the_truth():
    k, q = 10, uncertainty.laplace_halfwidth(21.0)
    assert uncertainty.withheld_interval(k, q) == (0, k - 1 + q)
    assert uncertainty.interval(3, q) == (0, 3 + q)  # a count is never negative


def test_percentiles_of_a_histogram_and_their_interval():
    histogram = [0] * 51
    histogram[10:16] = [1000, 2000, 4000, 3000, 1500, 500]  # 12000: p50 in 12, p90 in 14
    assert percentile(histogram, 50) == 12 and percentile(histogram, 90) == 14
    assert percentile(histogram, 99) == 15 and percentile([0] * 51, 50) is None
    hits = {50: 0, 90: 0}
    tight = 0
    for _ in range(40):
        noisy = [n + h for n, h in zip(draws(28.0, 0, 51), histogram)]
        found = with_intervals(noisy, 28.0)
        for p, true in ((50, 12), (90, 14)):
            bucket, low, high = found[p]
            hits[p] += low <= true <= high
            assert low <= bucket <= high
        assert found[50][0] <= found[90][0] <= found[99][0]
        tight += found[99][0] <= 16
    assert hits[50] >= 36 and hits[90] >= 36  # approximate 95% intervals
    assert tight >= 36  # the noise of 45 empty buckets rarely moves even the 99th percentile
    # Pure noise is no histogram, but for the 5% the significance floor allows (for all
    # 51 buckets together): of 400 noisy empty histograms, at most 20 expected, 40 is 4.6
    # standard deviations above (a single draw failed this one time in 20 or more).
    noise = draws(28.0, 0, 51 * 400)
    shown = sum(with_intervals(noise[i:i + 51], 28.0)[50] is not None
                for i in range(0, len(noise), 51))
    assert shown <= 40, shown
