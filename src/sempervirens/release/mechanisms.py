"""The noise of one statistic of one release: OpenDP measurements, never hand-made noise.

- A statistic whose keys are all fixed: OpenDP's Laplace mechanism on the whole key
  vector of integers (discrete Laplace), L1 distance = the statistic's sensitivity,
  scale = sensitivity / epsilon share.  Every fixed key is released.
- A statistic with open keys (versions without a declaration): OpenDP's Laplace
  threshold mechanism (partition selection, Rogers 2023) over the map key -> count,
  input distance (l0, l1, linf) from the bounds, the same scale, and the smallest
  threshold for which the library's privacy map gives delta <= the delta share.
  Fixed keys go through the same measurement with a public offset far above the
  threshold added before and removed after (a stable, data-independent shift), so
  they are kept except with probability below 1e-20 and the epsilon of the whole
  statistic is one figure from the library's map.

What each measurement spends is the library's `map(d_in)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from ..model.statistics import Bounds, Statistic
from .domains import Domain, Key

# Added to a fixed key's count before the threshold: noise of scale s exceeds OFFSET - tau
# with probability exp(-(OFFSET - tau) / s) < exp(-64 * 1000) for every scale we use.
_OFFSET_SCALES = 64
_SEPARATOR = "\x1f"


class MechanismError(RuntimeError):
    """The library refused a parameter, or a fixed key was not kept (never expected)."""


def _dp():
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp


def contribution(statistic: Statistic, bounds: Bounds,
                 interval: str = "day") -> tuple[int, int, int]:
    """(l0, l1, linf): how many keys one installation touches, by how much in all, per key.

    The promise is about one *day* of an installation's data.  On a week or a month, an
    installation active on other days too is counted with or without that day, but the
    day can move it: from one value of every breakdown to another (installs: 2 per
    breakdown, the total unchanged), or swap every cell the cap keeps (2 per cell).  So
    a week's and a month's statistics are noised for twice the cells (installs: the
    larger of the installation's 1 + B keys and the 2 B a move touches)."""
    l0, *per_key = bounds.factors(statistic)
    linf = math.prod(per_key)
    if interval != "day":
        if statistic.sensitivity == ("breakdowns_plus_total",):
            l0 = max(l0, 2 * (l0 - 1))
        else:
            l0 = 2 * l0
    return l0, l0 * linf, linf


@dataclass(frozen=True)
class Noised:
    values: dict[Key, int]  # released keys -> noisy count
    scale: float
    epsilon: float  # from the library's privacy map
    delta: float
    threshold: int | None  # partition selection only
    mechanism: str


@lru_cache(maxsize=256)
def _threshold(scale: float, d_in: tuple[int, int, int], delta: float) -> int:
    dp = _dp()
    domain = dp.map_domain(dp.atom_domain(T=str), dp.atom_domain(T="i64"))
    metric = dp.l01inf_distance(dp.absolute_distance(T="i64"))

    def make(threshold):
        return dp.m.make_laplace_threshold(domain, metric, scale=scale, threshold=threshold)

    # The library finds the smallest threshold whose map meets (epsilon, delta).
    epsilon = make(2**40).map(d_in)[0]
    return int(dp.binary_search_param(make, d_in=d_in, d_out=(epsilon, delta), T=int))


def noise(statistic: Statistic, domain: Domain, exact: dict[Key, int], bounds: Bounds,
          epsilon: float, delta: float, interval: str = "day") -> Noised:
    """Noisy counts of one statistic of one project and period."""
    dp = _dp()
    l0, l1, linf = contribution(statistic, bounds, interval)
    # A hair wider than l1 / epsilon, so that the library's map (which rounds up) never
    # reports more than the share.
    scale = l1 / epsilon * (1 + 1e-12)
    if not domain.has_selection:
        keys = domain.fixed
        if not keys:
            return Noised({}, scale, 0.0, 0.0, None, "nothing declared")
        measurement = dp.m.make_laplace(
            dp.vector_domain(dp.atom_domain(T="i64"), size=len(keys)), dp.l1_distance(T="i64"),
            scale=scale)
        spent = float(measurement.map(l1))
        noisy = measurement([int(exact.get(key, 0)) for key in keys])
        return Noised(dict(zip(keys, noisy)), scale, spent, 0.0, None,
                      f"OpenDP make_laplace (discrete Laplace) on the vector of {len(keys)} keys, "
                      f"scale {scale:.6g}, L1 sensitivity {l1}")
    threshold = _threshold(scale, (l0, l1, linf), delta)
    offset = threshold + _OFFSET_SCALES * max(1000, math.ceil(scale))
    data = {}
    for key in domain.fixed:
        data[_SEPARATOR.join(key)] = int(exact.get(key, 0)) + offset
    for key, n in exact.items():
        if domain.is_open(key) and n > 0:
            data[_SEPARATOR.join(key)] = int(n)
    measurement = dp.m.make_laplace_threshold(
        dp.map_domain(dp.atom_domain(T=str), dp.atom_domain(T="i64")),
        dp.l01inf_distance(dp.absolute_distance(T="i64")), scale=scale, threshold=threshold)
    spent_epsilon, spent_delta = (float(x) for x in measurement.map((l0, l1, linf)))
    released = measurement(data)
    values: dict[Key, int] = {}
    for key in domain.fixed:
        text = _SEPARATOR.join(key)
        if text not in released:
            raise MechanismError(f"{statistic.name}: fixed key {key} not kept")
        values[key] = int(released[text]) - offset
    for text, value in released.items():
        key = tuple(text.split(_SEPARATOR, 1))
        if key not in values:
            values[key] = int(value)
    return Noised(values, scale, spent_epsilon, spent_delta, threshold,
                  f"OpenDP make_laplace_threshold (discrete Laplace, partition selection) on "
                  f"the map of keys, scale {scale:.6g}, threshold {threshold}, "
                  f"d_in (l0, l1, linf) = ({l0}, {l1}, {linf}); fixed keys shifted by a public "
                  f"offset so they are always kept")
