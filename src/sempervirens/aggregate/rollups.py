"""Week and month rollups kept between cycles: one row per client and period.

A finished day is merged into its week and its month (an upsert of that day's
rows), so a new day costs a day's work instead of a re-read of its whole month.
Only finished days are merged, once each: today shows in the daily rows, and in
its week and month from tomorrow on.  When a day that was merged already is
redone (a deletion request, new anomaly exclusions, a new k), its periods are
rebuilt from their pings instead, so that nothing is counted twice.
rollup_periods records, per period, the last day merged into it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Connection, select, text

from . import tables
from ._periods import period_end, period_start
from ._sql import Dialect
from .public import client_pings, client_profile

INTERVALS = ("week", "month")
_ROWS = (tables.rollup_clients, tables.rollup_features, tables.rollup_timings,
         tables.rollup_crashes)


@dataclass(frozen=True)
class Merge:
    """Days [lo, hi) to merge into the period (interval, start); rebuild: empty it first."""
    interval: str
    start: date
    lo: date
    hi: date
    rebuild: bool


def plan(connection: Connection, days: list[date], today: date) -> list[Merge]:
    """The merges that bring every week and month up to date with the finished `days`."""
    merged = {(r.interval, _as_date(r.period_start)): _as_date(r.merged_through)
              for r in connection.execute(select(tables.rollup_periods))}
    merges = []
    for interval in INTERVALS:
        by_period: dict[date, list[date]] = {}
        for day in days:
            if day < today:
                by_period.setdefault(period_start(interval, day), []).append(day)
        for start, its_days in sorted(by_period.items()):
            through = merged.get((interval, start))
            if through is not None and min(its_days) <= through:
                end = min(period_end(interval, start), today)
                merges.append(Merge(interval, start, start, end, rebuild=True))
            else:
                merges.append(Merge(interval, start, min(its_days),
                                    max(its_days) + timedelta(days=1), rebuild=False))
    return merges


def apply(connection: Connection, d: Dialect, merge: Merge) -> None:
    """Merge the days of `merge` into its period.  Reads the pings (clients) and the
    base tables of public.build_base (features, timings, crashes), which must
    cover [merge.lo, merge.hi)."""
    params = {"interval": merge.interval, "start": d.date(merge.start),
              "lo": d.date(merge.lo), "hi": d.date(merge.hi)}

    def run(sql: str) -> None:
        connection.execute(text(sql), params)

    if merge.rebuild:
        for table in _ROWS:
            run(f'DELETE FROM {table.name} WHERE "interval" = :interval AND period_start = :start')
    greatest = ", ".join(f"{c} = {d.greatest(f'rollup_clients.{c}', f'excluded.{c}')}"
                         for c in ("version", "os", "arch", "python", "ci"))
    run(f"""
        INSERT INTO rollup_clients
            ("interval", period_start, project, client_id, version, os, arch, python, ci)
        SELECT * FROM (
            SELECT :interval, :start, p.project, p.client_id, {client_profile(d)}
            FROM pings p WHERE {client_pings(connection, d, merge.lo, merge.hi)}
            GROUP BY p.project, p.client_id
            ORDER BY p.project, p.client_id) c
        WHERE true
        ON CONFLICT ("interval", period_start, project, client_id) DO UPDATE SET {greatest}""")
    for table, base, keys, value in (
            (tables.rollup_features, "base_features", ("metric", "label"), "events"),
            (tables.rollup_timings, "base_timings", ("metric", "bucket"), "n"),
            (tables.rollup_crashes, "base_crashes", ("exception_type", "version"), "crashes")):
        columns = ", ".join(("project", "client_id", *keys))
        key = ", ".join(("project", *keys, "client_id"))  # the primary key's order
        run(f"""
            INSERT INTO {table.name} ("interval", period_start, {columns}, {value})
            SELECT * FROM (
                SELECT :interval, :start, {columns}, sum({value}) FROM {base}
                WHERE day >= :lo AND day < :hi GROUP BY {columns}
                ORDER BY {key}) b
            WHERE true
            ON CONFLICT ("interval", period_start, {key})
            DO UPDATE SET {value} = {table.name}.{value} + excluded.{value}""")
    run('DELETE FROM rollup_periods WHERE "interval" = :interval AND period_start = :start')
    connection.execute(tables.rollup_periods.insert().values(
        interval=merge.interval, period_start=merge.start,
        merged_through=merge.hi - timedelta(days=1)))


def analyze(connection: Connection, d: Dialect) -> None:
    """Fresh statistics for the planner after merges (PostgreSQL's autovacuum comes
    later, and plans made on an empty table's statistics are nested loops)."""
    if d.pg:
        for table in _ROWS:
            connection.execute(text(f"ANALYZE {table.name}"))


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
