"""The public statistics: what the engine computes and the release publishes.

Each statistic is computed by the engine (aggregate/) as exact, bounded counts per
(project, period, key1, key2) from the lake, then released once per closed period
with noise (release/).  Everything public is a row of one of these, so this list is
also the public schema: the API, the datasets and the budget split derive from it.

- keys: the names of key1 and key2 ('' where unused).
- intervals: the periods it is released for directly, each with its own noise.
- summed: released on days only; a week's or month's value is the sum of its
  days' released values (post-processing: no further budget, no new noise).
- weight: its share of a release's privacy budget, relative to the others released
  on that interval.
- sensitivity: which contribution bounds (release/bounds.py) limit what one
  installation adds to it, as a product of bound names.
"""

from __future__ import annotations

from dataclasses import dataclass

from .domains import BREAKDOWN_NAMES
from .periods import INTERVALS


@dataclass(frozen=True)
class Statistic:
    name: str
    keys: tuple[str, str]
    description: str
    weight: float
    sensitivity: tuple[str, ...]
    summed: bool = False

    @property
    def intervals(self) -> tuple[str, ...]:
        return ("day",) if self.summed else INTERVALS


STATISTICS: tuple[Statistic, ...] = (
    Statistic("installs", ("breakdown", "value"),
              "Active installations: distinct installations that sent a usage report in the "
              "period, in all (breakdown '') and by each breakdown, each installation counted "
              "once under one value (its greatest report).",
              weight=8, sensitivity=("breakdowns_plus_total",)),
    Statistic("feature_users", ("metric", "label"),
              "Installations that used a declared counter (and label) in the period.",
              weight=2, sensitivity=("max_features",)),
    Statistic("feature_events", ("metric", "label"),
              "Events of a declared counter: per installation and day at most the published "
              "bound; a week's and a month's value is the sum of their days.",
              weight=1, sensitivity=("max_features", "max_events_per_day"), summed=True),
    Statistic("timing_users", ("metric", "bucket"),
              "Installations whose median duration of a declared timing falls in the bucket "
              "(one per doubling, by its lower bound in microseconds).",
              weight=1, sensitivity=("max_timings",)),
    Statistic("crash_users", ("kind", "version"),
              "Installations that reported a crash of a declared kind, by version.",
              weight=1, sensitivity=("max_crash_cells",)),
    Statistic("crash_events", ("kind", "version"),
              "Crash reports of a declared kind, by version; per installation and day at most "
              "the published bound; weeks and months are sums of their days.",
              weight=0.5, sensitivity=("max_crash_cells", "max_crashes_per_day"), summed=True),
    Statistic("opt_outs", ("", ""),
              "Opt-out events (an opt-out carries no installation id); weeks and months are "
              "sums of their days.",
              weight=0.5, sensitivity=("opt_out_arrivals",), summed=True),
)

BY_NAME = {s.name: s for s in STATISTICS}

# Read-side numbers derived from released ones (post-processing, no budget):
# percentiles of a timing's noisy histogram, and the opt-out ratio.
PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class Bounds:
    """Contribution bounds: the most one installation adds to any statistic of a period.

    The engine applies them to the exact counts; the release derives each statistic's
    sensitivity from them; /privacy publishes them.  Operator settings (`bound_*`).
    """
    max_features: int = 10  # (metric, label) cells one installation counts in, per period
    max_events_per_day: int = 10  # events per installation, cell and day
    max_timings: int = 10  # timings one installation counts in, per period
    max_crash_cells: int = 3  # (kind, version) cells one installation counts in, per period
    max_crashes_per_day: int = 5  # crash reports per installation, cell and day

    def factors(self, statistic: Statistic) -> tuple[int, ...]:
        """The values of the bounds its sensitivity is the product of: the first, how many
        keys one installation touches; the others, by how much each."""
        # opt_out_arrivals: an installation queues at most one opt-out ping a project a
        # UTC day and keeps at most one waiting (client/_actions.py); the server counts a
        # ping on its arrival day, so one queued earlier and one of the day may arrive on it.
        values = {"one": 1, "opt_out_arrivals": 2,
                  "breakdowns_plus_total": 1 + len(BREAKDOWN_NAMES),
                  **{name: getattr(self, name) for name in self.__dataclass_fields__}}
        return tuple(values[name] for name in statistic.sensitivity)

