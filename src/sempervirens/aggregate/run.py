"""The aggregation cycle: enrich -> anomalies -> public and private aggregates ->
pending deletions -> retention purge.

`sempervirens aggregate` runs it once; `serve` runs it every
`aggregate_interval_seconds` in a thread of its own (background.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select

from . import lanes, recent, rollups, tables
from ..model.periods import period_end, period_start, ranges
from ._sql import Dialect, dialect_of
from .public import aggregate_range, base_lanes, begin
from .state import ACCESS_LOG, PINGS, dirty_days, record_days, utc_today

log = logging.getLogger("sempervirens.aggregate")


@dataclass(frozen=True)
class Config:
    k: int = 10
    retention_days: int = 30
    anomaly_min_clients: int = 100_000
    dp_epsilon: float | None = None
    dp_delta: float | None = None
    ip_hash_key: str | None = None
    dns_server: str | None = None
    enrich: bool = True  # off in benchmarks, which have no DNS to ask
    enrich_limit: int = 20_000  # most new addresses looked up per cycle (DNS time is bounded)

    @classmethod
    def from_settings(cls, values: dict) -> Config:
        return cls(k=values["k_anonymity"], retention_days=values["retention_days"],
                   anomaly_min_clients=values["anomaly_min_clients"],
                   dp_epsilon=values["dp_epsilon"], dp_delta=values["dp_delta"],
                   ip_hash_key=values["ip_hash_key"], dns_server=values["dns_server"])

    @property
    def dp(self) -> bool:
        return self.dp_epsilon is not None


@dataclass
class CycleReport:
    """Counts only (never an address): what one cycle did, for logs and tests."""
    public_days: list[date] = field(default_factory=list)
    private_days: list[date] = field(default_factory=list)
    enriched: int = 0
    anomalies: int = 0
    excluded_pings: int = 0
    purged_rows: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


# Called with (stores, report) after the aggregates and before the purge: the place
# where pending deletion requests are carried out (their days are then marked dirty
# with state.mark_dirty and redone by the next cycle).
DeletionHook = Callable[[object, CycleReport], None]
deletion_hooks: list[DeletionHook] = []


def run_cycle(stores, config: Config, *, today: date | None = None, purge: bool = True,
              hooks: Iterable[DeletionHook] | None = None) -> CycleReport:
    from ..admin import deletion  # noqa: F401 - registers its hook in deletion_hooks
    from .anomalies import detect_anomalies
    from .institutions import aggregate_private, enrich_new_addresses
    from .retention import purge_expired

    today = today or utc_today()
    report = CycleReport()
    private_counts = _timed(report, "private_scan", _private_dirty, stores.private, today)
    report.private_days = private_counts.dirty
    pending = False
    if config.enrich and report.private_days:
        report.enriched, pending = _timed(report, "enrich", enrich_new_addresses, stores.private,
                                          report.private_days, config)
    forced: list[date] = []
    if report.private_days:
        report.anomalies, report.excluded_pings, forced = _timed(
            report, "anomalies", detect_anomalies, stores, report.private_days, config)
    report.public_days = _timed(report, "public", aggregate_public, stores.telemetry, config,
                                today, forced)
    if report.private_days:
        _timed(report, "private", aggregate_private, stores.private, report.private_days,
               private_counts.counts, today, complete_ok=not pending)
    for hook in (deletion_hooks if hooks is None else hooks):
        hook(stores, report)
    if purge:
        report.purged_rows = _timed(report, "purge", purge_expired, stores,
                                    config.retention_days, today)
    log.info("aggregation: %d public days, %d private days, %d addresses enriched, "
             "%d anomalies, %d pings excluded, %d rows purged in %.1f s",
             len(report.public_days), len(report.private_days), report.enriched,
             report.anomalies, report.excluded_pings, report.purged_rows,
             sum(report.seconds.values()))
    return report


def _timed(report: CycleReport, name: str, function, *args, **kwargs):
    start = time.perf_counter()
    try:
        return function(*args, **kwargs)
    finally:
        report.seconds[name] = round(time.perf_counter() - start, 3)


def _private_dirty(engine, today: date):
    with engine.connect() as connection:
        return dirty_days(connection, tables.private_aggregated_days, ACCESS_LOG, today)


def aggregate_public(engine, config: Config, today: date | None = None,
                     forced: Iterable[date] = ()) -> list[date]:
    """Aggregate the new (and forced) days into the public tables; returns those days."""
    from .dp import DifferentialPrivacy

    today = today or utc_today()
    dp = DifferentialPrivacy(config.dp_epsilon, config.dp_delta) if config.dp else None
    wanted = _parameters(config, dp)
    with engine.connect() as connection:
        d = dialect_of(connection)
        published = dict(connection.execute(
            select(tables.public_parameters.c.name, tables.public_parameters.c.value)).all())
        # New privacy parameters apply to every period already published.
        changed = any(published.get(name) != value for name, value in wanted.items())
        counts = dirty_days(connection, tables.aggregated_days, PINGS, today,
                            only_complete=dp is not None, everything=changed)
        forced = [day for day in forced if dp is None or day < today]
        days = sorted(set(counts.dirty) | set(forced))
        merges = rollups.plan(connection, days, today)
    previous = published.get("aggregated_through") if not changed else None
    work = [("day", lo, hi) for lo, hi in ranges("day", days)]
    for interval in rollups.INTERVALS:
        starts = {m.start for m in merges if m.interval == interval}
        if dp is not None:  # whole periods only, each released once (see dp.py)
            starts = {s for s in starts if period_end(interval, s) <= today}
            starts |= _just_completed(interval, previous, today)
        work += [(interval, lo, hi) for lo, hi in ranges(interval, starts)]
    read = [(lo, hi) for interval, lo, hi in work if interval == "day"]
    read += [(m.lo, m.hi) for m in merges]
    base = (min(lo for lo, _ in read), max(hi for _, hi in read)) if read else None
    clients, cells = base_lanes(d, *base) if base else ([], [])
    # SQLite runs the lanes one after the other: weeks and months in one, so that
    # a day is read once for both (rollups.apply).
    groups = [(interval,) for interval in rollups.INTERVALS] if d.pg else [rollups.INTERVALS]
    publish = _Publish(d, config, dp, today, days, merges, base, work,
                       new_data=bool(days) or changed)
    # The bitmaps need only the clients: they share the cores with the cells' lanes.
    lanes.run(engine, d, [clients, [*cells, publish.recent_lane],
                          [*map(publish.rollups_lane, groups), publish.days_lane]])
    through = (today - timedelta(days=1)).isoformat()
    with engine.begin() as connection:  # last: the days are done only if every lane was
        record_days(connection, tables.aggregated_days, days, counts.counts, today)
        if days or changed or (dp is not None and published.get("aggregated_through") != through):
            _publish_parameters(connection, {**wanted, "aggregated_through": through})
    return days


@dataclass(frozen=True)
class _Publish:
    """The lanes (lanes.py) that publish a run's work: (interval, lo, hi) ranges of
    whole periods, after merging `merges` into the weeks and months."""
    d: Dialect
    config: Config
    dp: object
    today: date
    days: list[date]
    merges: list[rollups.Merge]
    base: tuple[date, date] | None  # the days of the base tables
    work: list[tuple[str, date, date]]
    new_data: bool

    def recent_lane(self, connection) -> None:
        """The 30-day bitmaps and windows."""
        with begin(connection, self.d):
            if self.dp is None:
                recent.merge_days(connection, self.d, self.days, self.today)
            recent.publish_recent(connection, self.d, self.today, self.config.k,
                                  dp=self.dp is not None, new_data=self.new_data)

    def days_lane(self, connection) -> None:
        with begin(connection, self.d):
            self._aggregate(connection, ("day",))

    def rollups_lane(self, intervals: tuple[str, ...]) -> lanes.Lane:
        def lane(connection) -> None:
            merges = [m for m in self.merges if m.interval in intervals]
            with begin(connection, self.d):
                rollups.apply(connection, self.d, merges, self.base)
            # More than a day's worth merged: fresh statistics (autovacuum keeps up
            # with days), taken after a commit so that the lanes' locks stay short.
            if len(merges) > len(intervals):
                with begin(connection, self.d):
                    rollups.analyze(connection, self.d)
            with begin(connection, self.d):
                self._aggregate(connection, intervals)
        return lane

    def _aggregate(self, connection, intervals: tuple[str, ...]) -> None:
        for interval, lo, hi in self.work:
            if interval in intervals:
                aggregate_range(connection, self.d, interval, lo, hi, self.config.k,
                                self.today, self.dp)


def _just_completed(interval: str, previous: str | None, today: date) -> set[date]:
    """Periods (of a DP release) whose last day ended since the previous cycle."""
    if previous is None or interval == "day":
        return set()
    day, starts = date.fromisoformat(previous) + timedelta(days=1), set()
    while day < today:
        start = period_start(interval, day)
        if period_end(interval, start) == day + timedelta(days=1):
            starts.add(start)
        day += timedelta(days=1)
    return starts


_DESCRIPTIONS = {
    "k": "Every public row describes at least k distinct installations; smaller parts "
         "are folded into '(other)' so that no difference of rows describes fewer.",
    "dp_epsilon": "Differential privacy: epsilon spent per project and period on the "
                  "active-installation counts ('' when off).",
    "dp_delta": "Differential privacy: delta per project and period ('' when off).",
    "dp_mechanism": "How noise is drawn ('' when off).",
    "dp_scope": "Which public counts are noisy ('' when off).",
    "aggregated_through": "Last UTC day included (later days are provisional or absent).",
    "updated_at": "When these tables last changed (UTC).",
}


def _parameters(config: Config, dp) -> dict[str, str]:
    values = {"k": str(config.k), "dp_epsilon": "", "dp_delta": "", "dp_mechanism": "",
              "dp_scope": ""}
    if dp is not None:
        values.update(dp.parameters())
    return values


def _publish_parameters(connection, values: dict[str, str]) -> None:
    values = {**values, "updated_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    connection.execute(tables.public_parameters.delete())
    connection.execute(tables.public_parameters.insert(), [
        {"name": name, "value": value, "description": _DESCRIPTIONS[name]}
        for name, value in values.items()])
