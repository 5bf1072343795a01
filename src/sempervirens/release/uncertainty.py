"""How exact each published number is: noise standard deviation and a 95% interval.

- A noised count: OpenDP's discrete Laplace of scale s has P(X = x) proportional to
  a^|x| with a = exp(-1/s); its variance is 2a / (1 - a)^2 and P(|X| > q) =
  2a^(q+1) / (1 + a).  The interval is value +- q with the smallest q for which that
  is at most 5% (exact, from the distribution), low clamped at 0.
- A week's or month's sum of released days: the noises are independent, so the
  variance is the sum of the days' variances; the interval is +- z standard
  deviations, z the normal 1.96 corrected for the sum's excess kurtosis
  (Cornish-Fisher: 1.989 for 7 days, 1.966 for 30; simulated coverage 95.0%;
  tests check it).
- A value withheld below k (NULL): the interval is [0, k - 1 + q], which holds the
  true count whenever |noise| <= q, and does not reveal the noisy value.
"""

from __future__ import annotations

import math

LEVEL = 0.95
_Z = 1.959963984540054  # the normal 97.5% quantile


def _ratio(scale: float) -> float:
    return math.exp(-1.0 / scale) if scale > 0 else 0.0


def laplace_sd(scale: float) -> float:
    """Standard deviation of OpenDP's discrete Laplace noise of this scale."""
    a = _ratio(scale)
    return math.sqrt(2 * a) / (1 - a) if a > 0 else 0.0


def laplace_halfwidth(scale: float, level: float = LEVEL) -> int:
    """Smallest q with P(|noise| <= q) >= level."""
    a = _ratio(scale)
    if a == 0:
        return 0
    # 2 a^(q+1) / (1+a) <= 1 - level  <=>  q + 1 >= log((1-level)(1+a)/2) / log(a)
    q = max(0, math.ceil(math.log((1 - level) * (1 + a) / 2) / math.log(a)) - 1)
    while 2 * a ** (q + 1) / (1 + a) > 1 - level:  # guard against rounding
        q += 1
    return q


def interval(value: int, halfwidth: int) -> tuple[int, int]:
    return max(0, value - halfwidth), max(0, value + halfwidth)


def withheld_interval(k: int, halfwidth: int) -> tuple[int, int]:
    return 0, k - 1 + halfwidth


def sum_sd(sds) -> float:
    return math.sqrt(sum(sd * sd for sd in sds))


def sum_halfwidth(sds) -> int:
    """Half-width of the 95% interval of a sum of independent Laplace noises: the normal
    quantile corrected for their excess kurtosis 3 sum(sd^4) / sum(sd^2)^2 (Cornish-Fisher)."""
    sds = [sd for sd in sds if sd > 0]
    if not sds:
        return 0
    variance = sum(sd * sd for sd in sds)
    kurtosis = 3 * sum(sd ** 4 for sd in sds) / variance ** 2
    z = _Z + (_Z ** 3 - 3 * _Z) * kurtosis / 24
    return math.ceil(z * math.sqrt(variance))
