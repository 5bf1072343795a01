"""Release one closed period of every project, once: noise, rows, ledger, datasets.

`release_period` takes the engine's exact bounded counts of one interval and period
and, for each project, in one transaction: checks that the period is closed and not
yet released (or that this is an explicit correction), splits the interval's budget
over its statistics (budget.py), noises each statistic with OpenDP
(mechanisms.py), derives what post-processing gives for free (weeks' and months'
sums of released days, timing percentiles), and inserts the rows and their ledger
entry.  Existing rows are never changed.

The released row set: every fixed key of every statistic, always (a value below k is
published as NULL, "< k", with an interval that does not reveal it); open keys only
when partition selection keeps them, which depends on one installation with
probability at most delta.  So the row set is the same with or without any one
installation, except with probability at most delta.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from ..model.domains import BREAKDOWNS
from ..monitoring import RELEASES
from ..model.periods import INTERVALS, period_end
from ..model.statistics import BY_NAME, PERCENTILES, STATISTICS
from . import ledger, percentiles, uncertainty
from .accountant import compose
from .budget import Budget, bounds_from_settings, split
from .domains import PUBLIC_BUCKETS, Domain, build_domains
from .errors import (AlreadyReleased, NotClosed, NothingToCorrect, PublishedUnrecorded,
                     ReleaseError)
from .mechanisms import Noised, noise
from .tables import PERCENTILE_STATISTIC, public_releases, public_statistics

log = logging.getLogger(__name__)

ExactRow = tuple[str, date, str, str, int]  # (project, period_start, key1, key2, n)


@dataclass
class Release:
    release_id: int
    project: str
    interval: str
    period_start: date
    version: int
    released_at: datetime
    epsilon: float
    delta: float
    mechanism: str
    bounds: dict
    statistics: dict
    correction_of: int | None
    rows: list[dict] = field(default_factory=list, repr=False)


def serving_allowed(settings: Mapping) -> bool:
    """False under `no_dp` (a private deployment): nothing may then be served publicly."""
    return not settings["no_dp"]


def domains_for(declarations: Mapping[str, object]) -> dict[str, dict[str, Domain]]:
    """{project: its statistics' domains} from {project: Declaration}."""
    return {project: build_domains(BREAKDOWNS, declaration)
            for project, declaration in declarations.items()}


def ready_at(interval: str, start: date, settings: Mapping) -> datetime:
    """When a period may be released: after its last day plus the grace period."""
    end = datetime.combine(period_end(interval, start), time(), tzinfo=timezone.utc)
    return end + timedelta(hours=float(settings["release_grace_hours"]))


def release_period(engine, project_domains: Mapping[str, Mapping[str, Domain]], interval: str,
                   period_start: date, exact: Mapping[str, Iterable[ExactRow]],
                   settings: Mapping, *, now: datetime, correction: bool = False,
                   datasets_dir: Path | None = None) -> list[Release]:
    """Release (interval, period_start) of every project in `project_domains`, once.

    exact: {statistic: [(project, period_start, key1, key2, n), ...]} from the engine,
    for this interval and period (summed statistics are not needed for weeks and months:
    they are sums of the released days).  correction=True adds a new version of an
    already released period, with its own budget in the ledger.  With `datasets_dir`,
    each release's files are written there after the commit.
    """
    if interval not in INTERVALS:
        raise ReleaseError(f"unknown interval {interval!r}")
    if now < ready_at(interval, period_start, settings):
        raise NotClosed(f"{interval} {period_start} may be released from "
                        f"{ready_at(interval, period_start, settings).isoformat()}")
    counts = _group(exact, project_domains, period_start)
    if datasets_dir is not None:
        _published_but_unrecorded(engine, project_domains, interval, period_start, datasets_dir)
    budget, bounds = Budget.from_settings(settings), bounds_from_settings(settings)
    k = int(settings["k_anonymity"])
    released: list[Release] = []
    try:
        with engine.begin() as connection:
            for project in sorted(project_domains):
                released.append(_release_project(
                    connection, project, project_domains[project], interval, period_start,
                    counts.get(project, {}), budget, bounds, k, settings, now, correction))
    except IntegrityError as error:  # a concurrent release of the same period won
        raise AlreadyReleased(f"{interval} {period_start}: released concurrently") from error
    RELEASES.labels(interval).inc(len(released))
    if datasets_dir is not None:
        from .datasets import write_release

        for release in released:
            write_release(Path(datasets_dir), release, k)
    return released


def _published_but_unrecorded(engine, project_domains, interval, start, datasets_dir) -> None:
    """PublishedUnrecorded if a version of the period was published (its dataset is in
    datasets_dir) that the ledger does not record: the store was put back to an older
    state (a database snapshot, a copied file).  Releasing it again would publish the
    period twice with independent noise (their mean halves the noise's variance) and
    spend budget the ledger does not show."""
    from .datasets import published_versions

    with engine.connect() as connection:
        for project in sorted(project_domains):
            previous = ledger.latest(connection, project, interval, start)
            recorded = 0 if previous is None else previous["version"]
            published = published_versions(Path(datasets_dir), project, interval, start)
            if published and published[-1] > recorded:
                raise PublishedUnrecorded(
                    f"{project}: {interval} {start} version {published[-1]} was published in "
                    f"{datasets_dir} but the store's ledger does not record it (a store put back "
                    f"to an older state): nothing released; restore the store from a backup "
                    f"taken after it (docs/operations.md, 'Backups')")


def _group(exact, project_domains, start) -> dict[str, dict[str, dict]]:
    counts: dict[str, dict[str, dict]] = defaultdict(lambda: defaultdict(dict))
    dropped = 0
    for name, rows in exact.items():
        if name not in BY_NAME:
            raise ReleaseError(f"unknown statistic {name!r}")
        for project, row_start, key1, key2, n in rows:
            if row_start != start:
                raise ReleaseError(f"{name}: a row of {row_start}, releasing {start}")
            domains = project_domains.get(project)
            if domains is None:
                dropped += 1  # a project not registered: nothing of it is published
                continue
            key = (key1, key2)
            if not (domains[name].is_fixed(key) or domains[name].is_open(key)):
                dropped += 1  # outside the public domain: never published (rule 3)
                continue
            counts[project][name][key] = int(n)
    if dropped:
        log.warning("release: %d exact rows outside every public domain were left out", dropped)
    return counts


def _release_project(connection, project, domains, interval, start, counts, budget, bounds, k,
                     settings, now, correction) -> Release:
    previous = ledger.latest(connection, project, interval, start)
    if previous is not None and not correction:
        raise AlreadyReleased(f"{project}: {interval} {start} was released (version "
                              f"{previous['version']}); a correction is explicit")
    if previous is None and correction:
        raise NothingToCorrect(f"{project}: {interval} {start} was never released")
    end = period_end(interval, start)
    if interval != "day":
        days = ledger.released_days(connection, project, start, end)
        missing = [start + timedelta(days=i) for i in range((end - start).days)
                   if start + timedelta(days=i) not in days]
        if missing:
            raise NotClosed(f"{project}: {interval} {start} waits for day {missing[0]}")
    no_dp = bool(settings["no_dp"])
    shares = split(interval, domains, budget)
    rows: list[dict] = []
    spent: dict[str, dict] = {}
    losses: list[tuple[float, float]] = []
    for statistic in STATISTICS:
        if statistic.name not in shares:
            continue
        share = shares[statistic.name]
        domain = domains[statistic.name]
        exact = counts.get(statistic.name, {})
        if no_dp:
            noised = Noised({key: int(exact.get(key, 0)) for key in domain.fixed}
                            | {key: n for key, n in exact.items() if domain.is_open(key)},
                            0.0, math.inf, 1.0, None, "none: no_dp (a private deployment)")
        else:
            noised = noise(statistic, domain, exact, bounds, share.epsilon, share.delta,
                           interval)
        losses.append((noised.epsilon, noised.delta))
        finite = math.isfinite(noised.epsilon)
        spent[statistic.name] = {"epsilon": noised.epsilon if finite else None,
                                 "delta": noised.delta if finite else None,
                                 "share_epsilon": share.epsilon, "share_delta": share.delta,
                                 "scale": noised.scale, "threshold": noised.threshold,
                                 "mechanism": noised.mechanism}
        rows += _noised_rows(statistic.name, noised, k)
        if statistic.name == "timing_users":
            rows += _percentile_rows(domain, noised, k)
    if interval != "day":
        # A day released without DP holds exact counts: a sum over it would publish them
        # (in a release whose epsilon says otherwise), so the summed statistics are left out.
        exact_days = not no_dp and ledger.days_without_dp(connection, project, start, end)
        for statistic in STATISTICS:
            if statistic.summed and exact_days:
                spent[statistic.name] = {"epsilon": 0.0, "delta": 0.0, "mechanism": (
                    "withheld: a day of the period was released without differential privacy")}
            elif statistic.summed:
                rows += _summed_rows(connection, project, statistic.name, start, end, k)
                spent[statistic.name] = {"epsilon": 0.0, "delta": 0.0,
                                         "mechanism": "sum of the released days (no new noise)"}
    epsilon, delta = compose(losses)
    mechanism = ("none (no_dp): exact counts, not to be served publicly" if no_dp else
                 "OpenDP discrete Laplace per statistic (make_laplace on the fixed keys' vector; "
                 "make_laplace_threshold where versions need partition selection); budget split "
                 "by weight; basic composition")
    version = 1 if previous is None else previous["version"] + 1
    values = {"project": project, "interval": interval, "period_start": start,
              "version": version, "released_at": now, "epsilon": epsilon, "delta": delta,
              "mechanism": mechanism, "bounds": asdict(bounds), "statistics": spent,
              "correction_of": None if previous is None else previous["release_id"]}
    inserted = connection.execute(public_releases.insert().values(**values))
    release_id = inserted.inserted_primary_key[0]
    for row in rows:
        row.update(release_id=release_id, project=project, interval=interval, period_start=start)
    if rows:
        connection.execute(public_statistics.insert(), rows)
    return Release(release_id=release_id, rows=rows, **values)


def _noised_rows(name: str, noised: Noised, k: int) -> list[dict]:
    sd = uncertainty.laplace_sd(noised.scale)
    q = uncertainty.laplace_halfwidth(noised.scale)
    return [_row(name, key, value, sd, q, k) for key, value in noised.values.items()]


def _row(name, key, noisy, sd, q, k) -> dict:
    if noisy < k:
        low, high = uncertainty.withheld_interval(k, q)
        value = None
    else:
        low, high = uncertainty.interval(noisy, q)
        value = noisy
    return {"statistic": name, "key1": key[0], "key2": key[1], "value": value,
            "noise_sd": sd, "low": low, "high": high, "noisy": noisy}


def _summed_rows(connection, project, name, start, end, k) -> list[dict]:
    """A week's or month's summed statistic: the sum of its released days, key by key."""
    sums: dict[tuple, int] = defaultdict(int)
    sds: dict[tuple, list[float]] = defaultdict(list)
    for _, key1, key2, noisy, sd in ledger.latest_day_rows(connection, project, name, start, end):
        sums[key1, key2] += noisy
        sds[key1, key2].append(sd)
    rows = []
    for key, total in sums.items():
        sd = uncertainty.sum_sd(sds[key])
        rows.append(_row(name, key, total, sd, uncertainty.sum_halfwidth(sds[key]), k))
    return rows


def _percentile_rows(domain: Domain, noised: Noised, k: int) -> list[dict]:
    """p50/p90/p99 of each timing's released histogram (post-processing)."""
    rows = []
    metrics = list(dict.fromkeys(metric for metric, _ in domain.fixed))
    for metric in metrics:
        counts = [noised.values[metric, bucket] for bucket in PUBLIC_BUCKETS]
        shown = sum(percentiles.significant(counts, noised.scale)) >= k
        found = percentiles.with_intervals(counts, noised.scale) if shown and noised.scale else {}
        for p in PERCENTILES:
            bucket, low, high = found.get(p) or (None, None, None)
            if shown and not noised.scale:  # no_dp: exact
                bucket = low = high = percentiles.percentile(counts, p)
            rows.append({"statistic": PERCENTILE_STATISTIC, "key1": metric, "key2": f"p{p}",
                         "value": bucket, "noise_sd": None, "low": low, "high": high,
                         "noisy": None})
    return rows
