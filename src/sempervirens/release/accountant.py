"""The guarantee one installation gets, composed by OpenDP's accountant.

Every release is recorded in the ledger with the (epsilon, delta) that the library's
privacy maps gave its statistics.  One installation's data of one day is in one
day's, one week's and one month's release of its project (each version counts: a
correction spends again); its data of a month is in that month's days, the weeks
that overlap it and the month; of a year, likewise.  `guarantee` composes, for the
worst such window in the ledger, the releases it touches with OpenDP's basic
composition (`make_composition`: epsilons and deltas add up), each release standing
in as a measurement whose privacy map is its recorded loss.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, timedelta

from sqlalchemy import select

from ..model.periods import INTERVALS, period_end, period_start
from .budget import Budget
from .tables import public_releases, servable

Loss = tuple[float, float]


def compose(losses: Iterable[Loss]) -> Loss:
    """(epsilon, delta) of all these releases together, by OpenDP's basic composition."""
    losses = [(float(e), float(d)) for e, d in losses]
    if not losses:
        return 0.0, 0.0
    if any(e == float("inf") for e, _ in losses):
        return float("inf"), 1.0
    import opendp.prelude as dp

    dp.enable_features("contrib", "honest-but-curious")  # the ledger's recorded maps
    measure = dp.approximate(dp.max_divergence())
    parts = [dp.m.make_user_measurement(dp.atom_domain(T=bool), dp.discrete_distance(), measure,
                                        function=lambda x: x,
                                        privacy_map=lambda d_in, loss=loss: loss)
             for loss in losses]
    epsilon, delta = dp.c.make_composition(parts).map(1)
    return float(epsilon), float(delta)


def _windows(kind: str, start: date) -> tuple[date, date]:
    if kind == "day":
        return start, start + timedelta(days=1)
    if kind == "month":
        return start, period_end("month", start)
    return start, date(start.year + 1, 1, 1)


def _touching(releases, lo: date, hi: date) -> list[Loss]:
    """Losses of the releases whose period overlaps the days [lo, hi)."""
    return [(e, d) for interval, s, e, d in releases if s < hi and period_end(interval, s) > lo]


def _worst(releases, kind: str) -> Loss:
    starts = set()
    for interval, start, _, _ in releases:
        day, end = start, period_end(interval, start)
        while day < end:
            starts.add(day if kind == "day" else
                       day.replace(day=1) if kind == "month" else day.replace(month=1, day=1))
            day += timedelta(days=1)
    if not starts:
        return 0.0, 0.0

    # Find the worst window by plain sums (fast), then let the library compose it.
    def total(start):
        losses = _touching(releases, *_windows(kind, start))
        return sum(e for e, _ in losses), sum(d for _, d in losses)

    worst = max(sorted(starts), key=total)
    return compose(_touching(releases, *_windows(kind, worst)))


def _full_calendar(budget: Budget, kind: str) -> Loss:
    """A deployment releasing every period: the worst day, month (31 days, 6 weeks) and year."""
    start = {"day": date(2024, 1, 1), "month": date(2024, 12, 1),  # a Sunday-first month
             "year": date(2040, 1, 1)}[kind]  # a leap year from a Sunday: 54 ISO weeks
    lo, hi = _windows(kind, start)
    releases = []
    for interval in INTERVALS:
        period = period_start(interval, lo)
        while period < hi:
            releases.append((interval, period, budget.epsilon[interval], budget.delta[interval]))
            period = period_end(interval, period)
    return compose(_touching(releases, lo, hi))


def guarantee(engine, settings: Mapping, project: str | None = None) -> dict:
    """The guarantee for one installation over a day, a month and a year.

    {"day": (eps, delta), "month": ..., "year": ..., "per_project": {"day": ..., ...},
    "configured": {...}, "projects": n}: the first three from the ledger (worst window of
    `project`, or, without one, of every project's releases together: an installation id
    is shared by all the projects of a machine); "per_project" for one project releasing
    every period with the current settings, "configured" for an installation in each of
    the deployment's n projects (at least 1: what a deployment with no releases yet gives).
    """
    query = select(public_releases.c.project, public_releases.c.interval,
                   public_releases.c.period_start, public_releases.c.epsilon,
                   public_releases.c.delta).where(servable())
    if project is not None:
        query = query.where(public_releases.c.project == project)
    by_project = defaultdict(list)
    with engine.connect() as connection:
        for p, interval, start, epsilon, delta in connection.execute(query):
            by_project[p].append((interval, start, epsilon, delta))
    budget = Budget.from_settings(settings)
    result = {}
    # One installation id is shared by every project on a machine (client/_identity.py):
    # an installation-day is in every project's day, week and month release, so without a
    # project the releases of all projects compose (not the worst single project).
    everything = [r for releases in by_project.values() for r in releases]
    for kind in ("day", "month", "year"):
        result[kind] = _worst(everything, kind)
    result["projects"] = projects = max(1, len(by_project))
    result["per_project"] = {kind: _full_calendar(budget, kind)
                             for kind in ("day", "month", "year")}
    result["configured"] = {kind: compose([loss] * projects)
                            for kind, loss in result["per_project"].items()}
    return result
