"""The privacy budget: per interval from the settings, then per statistic by weight.

One day of one installation's data is in one day's, one week's and one month's
release of its project, so the loss per installation-day is the sum of the three
intervals' epsilons (default 0.5 + 0.25 + 0.25 = 1).  Delta (`dp_delta`, per day of
data) is split over the intervals in the same proportions.  Inside a release, the
interval's epsilon is split over the statistics released on that interval by their
weight; its delta only over the statistics that need partition selection (a project
that declares its versions spends no delta at all).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..model.periods import INTERVALS
from ..model.statistics import STATISTICS, Bounds, Statistic
from .domains import Domain


@dataclass(frozen=True)
class Budget:
    epsilon: Mapping[str, float]  # per interval
    delta: Mapping[str, float]  # per interval

    @classmethod
    def from_settings(cls, settings: Mapping) -> Budget:
        epsilon = {i: float(settings[f"dp_epsilon_{i}"]) for i in INTERVALS}
        total = sum(epsilon.values())
        delta = {i: float(settings["dp_delta"]) * epsilon[i] / total for i in INTERVALS}
        return cls(epsilon, delta)

    @property
    def per_installation_day(self) -> tuple[float, float]:
        return sum(self.epsilon.values()), sum(self.delta.values())


@dataclass(frozen=True)
class Share:
    epsilon: float
    delta: float  # 0 for a statistic without partition selection


def bounds_from_settings(settings: Mapping) -> Bounds:
    return Bounds(**{name: int(settings[f"bound_{name}"]) for name in Bounds.__dataclass_fields__})


def released_on(interval: str) -> tuple[Statistic, ...]:
    """The statistics noised directly for this interval (summed ones: days only)."""
    return tuple(s for s in STATISTICS if interval in s.intervals)


def split(interval: str, domains: Mapping[str, Domain], budget: Budget) -> dict[str, Share]:
    """Each statistic's share of one release's (epsilon, delta)."""
    statistics = released_on(interval)
    weights = sum(s.weight for s in statistics)
    selecting = [s for s in statistics if domains[s.name].has_selection]
    selecting_weights = sum(s.weight for s in selecting)
    return {
        s.name: Share(budget.epsilon[interval] * s.weight / weights,
                      budget.delta[interval] * s.weight / selecting_weights
                      if s in selecting else 0.0)
        for s in statistics
    }
