"""One cycle, in order:

1. private: enrich the new days' addresses, flag anomalies (their pings are left out
   of every public number);
2. seal: every closed day into the lake (then the hot store keeps only a margin);
3. release: every closed period of every declared project, once (days, then the
   weeks and months whose days are all released), computed by the engine from the
   lake and published by the release with its noise and its ledger entry;
4. the private institution aggregates of the new days;
5. pending deletion requests (stores and lake);
6. retention: raw addresses past the retention period.

Steps 4, 5 and 6 each run even when an earlier step fails; the first failure is
raised after them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from ..monitoring import record_cycle
from ..store._cycle_lock import CycleLockLost

log = logging.getLogger("sempervirens.cycle")


@dataclass
class CycleReport:
    """Counts only (never an address): what one cycle did, for logs and tests."""
    sealed_days: list[date] = field(default_factory=list)
    releases: list[tuple[str, str, date]] = field(default_factory=list)  # project, interval, start
    private_days: list[date] = field(default_factory=list)
    enriched: int = 0
    anomalies: int = 0
    anomaly_pings: int = 0
    deleted_clients: int = 0
    purged_rows: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def run_cycle(stores, settings: dict, *, now: datetime | None = None, purge: bool = True,
              enrich: bool = True, lock=None) -> CycleReport:
    """One cycle; `lock`: the CycleLock held (background.cycle_lock), checked before each
    step that writes the lake or the releases."""
    from ..admin.deletion import process_pending
    from ..aggregate.anomalies import detect_anomalies
    from ..aggregate.institutions import aggregate_private, complete_before, enrich_new_addresses
    from ..aggregate.retention import purge_expired
    from ..aggregate.state import dirty_days
    from ..aggregate import tables

    now = now or datetime.now(timezone.utc)
    today = now.date()
    report = CycleReport()
    check = lock.check if lock is not None else (lambda: None)
    with stores.private.connect() as connection:
        private = dirty_days(connection, tables.private_aggregated_days, today)
    report.private_days = private.dirty
    enriched = None
    if enrich and report.private_days:
        enriched = _timed(report, "enrich", enrich_new_addresses, stores.private,
                          report.private_days, settings)
        report.enriched = enriched.looked_up
    if report.private_days:
        report.anomalies, report.anomaly_pings = _timed(
            report, "anomalies", detect_anomalies, stores, report.private_days, settings)

    def public() -> None:
        check()
        report.sealed_days = _timed(report, "seal", seal_closed_days, stores, settings, now)
        check()
        report.releases = _timed(report, "release", release_closed_periods, stores, settings, now)

    def private_aggregates() -> None:
        if report.private_days:
            # Days with addresses still to look up stay incomplete: redone next cycle (for
            # ENRICH_RETRY_DAYS; then those addresses count as unknown).
            _timed(report, "private", aggregate_private, stores.private, report.private_days,
                   private.counts, today, settings,
                   complete_before=complete_before(today, enriched))

    def deletions() -> None:
        check()
        report.deleted_clients = _timed(report, "deletions", process_pending, stores, settings)

    def retention() -> None:
        if purge:
            report.purged_rows = _timed(report, "purge", purge_expired, stores,
                                        settings["retention_days"], today)

    # The private aggregates, the deletion requests and the purge of expired addresses
    # never wait for a step that fails (a lake to repair, an engine that cannot run, a
    # release refused, a full disk): failing again every cycle, it held them back for good
    # (the log's addresses kept past their retention).  Each runs; the first failure is
    # raised after them.
    failure = None
    for step in (public, private_aggregates, deletions, retention):
        try:
            step()
        except CycleLockLost:
            raise  # another cycle may run now: this one does nothing more
        except Exception as error:  # noqa: BLE001 - the first failure is raised below
            if failure is None:
                failure = error
            else:  # the type only: a database error quotes its parameters (addresses)
                log.warning("cycle: step %s failed too (%s)", step.__name__, type(error).__name__)
    if failure is not None:
        raise failure
    log.info("cycle: %d days sealed, %d periods released, %d private days, %d addresses "
             "enriched, %d anomalies (%d pings), %d clients deleted, %d rows purged "
             "in %.1f s", len(report.sealed_days), len(report.releases),
             len(report.private_days), report.enriched, report.anomalies,
             report.anomaly_pings, report.deleted_clients, report.purged_rows,
             sum(report.seconds.values()))
    record_cycle(sum(report.seconds.values()))
    return report


def _timed(report: CycleReport, name: str, function, *args, **kwargs):
    start = time.perf_counter()
    try:
        return function(*args, **kwargs)
    finally:
        report.seconds[name] = round(time.perf_counter() - start, 3)


def seal_closed_days(stores, settings: dict, now: datetime) -> list[date]:
    """Seal every closed day into the lake, then prune the hot store to its margin."""
    from ..admin.deletion import forget_stragglers
    from ..admin.projects import declarations, registered_days
    from ..store import lake

    where = lake.Lake(settings["lake"])
    # A deleted client's ping that its writer committed after the deletion never
    # reaches the lake.
    forget_stragglers(stores, settings, lake.closed_store_days(
        stores.telemetry, now=now, grace=timedelta(hours=settings["seal_grace_hours"])))
    # Every day from the first registration of a declared project is sealed, pings or
    # not: its periods are released once all their days are (release_closed_periods).
    declared, registered = declarations(stores.telemetry), registered_days(stores.telemetry)
    since = min((registered[p] for p in declared if p in registered), default=None)
    sealed = lake.seal(stores.telemetry, where, now=now,
                       grace=timedelta(hours=settings["seal_grace_hours"]), since=since)
    lake.prune(stores.telemetry, where, now=now, margin_days=settings["hot_margin_days"])
    return sealed.days


def release_closed_periods(stores, settings: dict, now: datetime) -> list[tuple[str, str, date]]:
    """Release every closed, sealed, unreleased period of every declared project, once:
    days first, then the weeks and months whose days have all been released.

    A project's periods are released from the day it was registered (public
    knowledge), never from its first data (which one installation could reveal)."""
    from ..admin.projects import declarations, registered_days
    from ..aggregate.engine import compute, open_runner_from_settings
    from ..model.lake import LAKE_TABLES
    from ..model.periods import INTERVALS
    from ..release import bounds_from_settings, domains_for, release_period
    from ..release.datasets import write_missing
    from ..store import lake

    # Files of earlier releases that a failure after their commit left unwritten.
    write_missing(stores.telemetry, Path(settings["releases_dir"]), int(settings["k_anonymity"]))
    declared = declarations(stores.telemetry)
    if not declared:
        return []
    where = lake.Lake(settings["lake"])
    sealed = set(where.days())
    since = registered_days(stores.telemetry)
    domains = domains_for(declared)
    declared_rows = [(project, *row) for project, d in declared.items() for row in d.rows()]
    released = []
    runner = None
    try:
        for interval in INTERVALS:
            due = due_periods(stores.telemetry, interval, {p: since[p] for p in declared},
                              sealed, now, settings)
            if not due:
                continue
            runner = runner or open_runner_from_settings(settings)
            days = sorted({day for start in due for day in days_of(interval, start)})
            exact = compute({t.name: where.files(t.name, days) for t in LAKE_TABLES}, interval,
                            sorted(due), declared_rows, bounds_from_settings(settings),
                            engine=runner)
            for start, projects in sorted(due.items()):
                rows = {name: [r for r in found if r[1] == start and r[0] in projects]
                        for name, found in exact.items()}
                release_period(stores.telemetry, {p: domains[p] for p in projects}, interval,
                               start, rows, settings, now=now,
                               datasets_dir=Path(settings["releases_dir"]))
                released += [(project, interval, start) for project in projects]
    finally:
        if runner is not None:
            runner.close()
    return released


def due_periods(engine, interval: str, since: dict[str, date], sealed: set[date],
                now: datetime, settings: dict) -> dict[date, list[str]]:
    """{period start: [project, ...]}: the periods of `interval` that are over (plus the
    grace period), whose days are all sealed, not released yet for these projects, and,
    for weeks and months, whose days have all been released for them."""
    from ..model.periods import period_start
    from ..release import ready_at
    from ..release.ledger import released_periods

    due: dict[date, list[str]] = {}
    starts = {period_start(interval, day) for day in sealed}
    for project, first in sorted(since.items()):
        done = released_periods(engine, project, interval)
        days_done = released_periods(engine, project, "day") if interval != "day" else set()
        for start in sorted(starts):
            days = days_of(interval, start)
            if (start < first or start in done or now < ready_at(interval, start, settings)
                    or not set(days) <= sealed):
                continue
            if interval != "day" and not set(days) <= days_done:
                continue
            due.setdefault(start, []).append(project)
    return due


def days_of(interval: str, start: date) -> list[date]:
    from ..model.periods import period_end

    return [start + timedelta(days=i) for i in range((period_end(interval, start) - start).days)]
