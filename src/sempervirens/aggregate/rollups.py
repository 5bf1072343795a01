"""Weeks and months kept between cycles, so that a finished day is merged in at a
day's cost instead of its whole period being counted again.

Per period: who was counted (rollup_clients: the breakdowns of each client's
greatest report, and the numbers of the feature, timing and crash cells it is
counted in) and the running counts that the public rows are made of
(rollup_parts, rollup_cells).  Merging a day adds its clients that are new to
a cell as users, moves a client whose greatest report changed to its new
parts, and adds up the totals.  Only finished days are merged, once each: today
shows in the daily rows, and in its week and month from tomorrow on.  When a day that was merged
already is redone (a deletion request, new anomaly exclusions, a new k), its
periods are emptied and rebuilt instead, so that nothing is counted twice.
rollup_periods records, per period, the last day merged into it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import groupby

from sqlalchemy import Connection, select, text

from . import tables
from ..model.periods import period_end, period_start
from ._sql import Dialect
from .public import PROFILE, analyze_fresh, drop_temp, temp_view
from .state import PINGS, distinct_days
from .tables import UNKNOWN

INTERVALS = ("week", "month")
_ROWS = (tables.rollup_clients, tables.rollup_parts, tables.rollup_cells)


@dataclass(frozen=True)
class Merge:
    """Days [lo, hi) to merge into the period (interval, start).  rebuild: empty it
    first."""
    interval: str
    start: date
    lo: date
    hi: date
    rebuild: bool


def plan(connection: Connection, days: list[date], today: date) -> list[Merge]:
    """The merges that bring every week and month up to date with the finished `days`."""
    merged = {(r.interval, _as_date(r.period_start)): r
              for r in connection.execute(select(tables.rollup_periods))}
    merges = []
    for interval in INTERVALS:
        by_period: dict[date, list[date]] = {}
        for day in days:
            if day < today:
                by_period.setdefault(period_start(interval, day), []).append(day)
        for start, its_days in sorted(by_period.items()):
            record = merged.get((interval, start))
            through = record and _as_date(record.merged_through)
            if record is not None and (record.pruned or min(its_days) <= through):
                end = min(period_end(interval, start), today)
                merges.append(Merge(interval, start, start, end, rebuild=True))
            else:
                merges.append(Merge(interval, start, min(its_days),
                                    max(its_days) + timedelta(days=1), rebuild=False))
    return merges


def apply(connection: Connection, d: Dialect, merges: list[Merge], base: tuple[date, date]) -> None:
    """Merge the days of each of `merges` into its period.  Reads the base tables
    of public.base_lanes (clients, cells), which hold the days [lo, hi) of `base`,
    covering the merges' days; once per range of days (a day that ends goes into
    its week and its month)."""
    def days(merge: Merge) -> tuple[date, date]:
        return merge.lo, merge.hi

    for (lo, hi), same_days in groupby(sorted(merges, key=days), key=days):
        drop_temp(connection, *_DAYS)
        _read_days(connection, d, lo, hi, alone=(lo, hi) == base)
        for merge in same_days:
            _merge(connection, d, merge)
        drop_temp(connection, *_DAYS)


_DAYS = ("merge_days", "merge_rows", "merge_cells")  # the clients and cells of a range of days
_MERGE = ("merge_clients", "merge_new", "merge_changes")  # those against one period


def _read_days(connection: Connection, d: Dialect, lo: date, hi: date, alone: bool) -> None:
    """merge_days: each client of [lo, hi) with its greatest report; merge_rows: per
    client and feature, timing or crash cell, its total; merge_cells: per cell, its
    total.  alone: the base tables hold these days only.

    Metrics come only with usage and crash pings, so every client of merge_rows
    is in merge_days.
    """
    def run(sql: str) -> None:
        connection.execute(text(sql))

    where = f"WHERE day >= {d.date_literal(lo)} AND day < {d.date_literal(hi)}"
    profile = ", ".join(PROFILE)
    clients = f"SELECT project, client_id, {profile} FROM base_clients {where}"
    rows = f"SELECT project, kind, a, b, client_id, total FROM base_members {where}"
    one_day = hi - lo == timedelta(days=1)  # one row per client, and per client and cell, already
    if one_day and alone:  # the day's tables as they are
        temp_view(connection, "merge_days", clients)
        temp_view(connection, "merge_rows", rows)
    elif one_day:
        run(d.temp_table("merge_days", clients))
        # (a copy: a view over base tables that hold many days let PostgreSQL
        # plan merge_new as a scan of them all per cell)
        run(d.temp_table("merge_rows", rows))
        analyze_fresh(connection, d, "merge_rows", "project, client_id")
    else:
        # The greatest of each client's reports of the days (_read_clients' order).
        order = ", ".join(f"{key} DESC" for key in _rank(""))
        greatest = f"row_number() OVER (PARTITION BY project, client_id ORDER BY {order})"
        run(d.temp_table("merge_days", f"SELECT project, client_id, {profile} FROM ("
                                       f"SELECT *, {greatest} AS r FROM base_clients {where}) c "
                                       "WHERE r = 1"))
        run(d.temp_table("merge_rows", f"SELECT project, kind, a, b, client_id, "
                                       f"sum(total) AS total FROM ({rows}) r "
                                       "GROUP BY project, kind, a, b, client_id"))
        analyze_fresh(connection, d, "merge_rows", "project, client_id")
    run(d.temp_table("merge_cells", f"SELECT project, kind, a, b, sum(total) AS total "
                                    f"FROM base_cells {where} AND kind <> 'bucket' "
                                    "GROUP BY project, kind, a, b"))


def _merge(connection: Connection, d: Dialect, merge: Merge) -> None:
    params = {"interval": merge.interval, "start": d.date(merge.start)}

    def run(sql: str, **extra) -> None:
        connection.execute(text(sql), {**params, **extra})

    if merge.rebuild:
        for table in _ROWS:
            run(f'DELETE FROM {table.name} WHERE "interval" = :interval AND period_start = :start')
    drop_temp(connection, *_MERGE)
    _read_clients(d, run)
    # (the join keys: the other columns are only carried along)
    analyze_fresh(connection, d, "merge_clients", "project, client_id, old_version")
    _merge_cells(d, run)
    _merge_clients(d, run)
    drop_temp(connection, *_MERGE)
    run(f"""
        INSERT INTO rollup_cells ("interval", period_start, project, kind, a, b, cell, users, total)
        SELECT * FROM (
            SELECT :interval, :start, project, 'bucket', a, b, 0, 0, sum(total)
            FROM base_cells
            WHERE kind = 'bucket' AND day >= {d.date_literal(merge.lo)}
              AND day < {d.date_literal(merge.hi)}
            GROUP BY project, a, b) c
        WHERE true
        ON CONFLICT ("interval", period_start, project, kind, a, b)
        DO UPDATE SET total = rollup_cells.total + excluded.total""")
    run('DELETE FROM rollup_periods WHERE "interval" = :interval AND period_start = :start')
    connection.execute(tables.rollup_periods.insert().values(
        interval=merge.interval, period_start=merge.start,
        merged_through=merge.hi - timedelta(days=1), pruned=False))


def _read_clients(d: Dialect, run) -> None:
    """merge_clients: each client of the days, with its greatest report over the
    period so far (reports compare as the pings' index orders them: by version,
    then OS, ...; a value not reported, UNKNOWN, below any other), its report and
    cells before these days (old_*; NULL for a client new to the period)."""
    newer = f"o.version IS NULL OR ({', '.join(_rank('c.'))}) > ({', '.join(_rank('o.'))})"
    run(d.temp_table("merge_clients", f"""
        SELECT c.project, c.client_id,
               {', '.join(f'CASE WHEN {newer} THEN c.{v} ELSE o.{v} END AS {v}' for v in PROFILE)},
               {', '.join(f'o.{v} AS old_{v}' for v in PROFILE)}, o.cells AS old_cells
        FROM merge_days c LEFT JOIN rollup_clients o
          ON o."interval" = :interval AND o.period_start = :start
         AND o.project = c.project AND o.client_id = c.client_id"""))
    if not d.pg:  # SQLite joins by nested loops: merge_new looks its clients up here
        run("CREATE INDEX merge_clients_key ON merge_clients (project, client_id)")


def _rank(prefix: str) -> list[str]:
    """How reports compare: by version, then OS, ...; UNKNOWN below any other value."""
    return [key for v in PROFILE for key in (f"{prefix}{v} <> '{UNKNOWN}'", f"{prefix}{v}")]


def _merge_cells(d: Dialect, run) -> None:
    """rollup_cells of the feature, timing and crash cells: a cell new to the period
    gets the next number of its project; a client not yet counted in a cell adds
    one user to it (merge_new); totals add up."""
    period = 'k."interval" = :interval AND k.period_start = :start AND k.project = r.project'
    cell = f"{period} AND k.kind = r.kind AND k.a = r.a AND k.b = r.b"
    run(f"""
        INSERT INTO rollup_cells ("interval", period_start, project, kind, a, b, cell, users, total)
        SELECT CAST(:interval AS VARCHAR(5)), :start, r.project, r.kind, r.a, r.b,
               coalesce((SELECT max(k.cell) FROM rollup_cells k WHERE {period}), 0)
               + row_number() OVER (PARTITION BY r.project ORDER BY r.kind, r.a, r.b), 0, 0
        FROM merge_cells r
        WHERE NOT EXISTS (SELECT 1 FROM rollup_cells k WHERE {cell})""")
    seen = d.contains("c.old_cells", "',' || k.cell || ','")
    # CROSS JOIN: SQLite keeps this order (each row looks its cell and its client up
    # by index) instead of scanning merge_rows once per cell.
    run(d.temp_table("merge_new", f"""
        SELECT r.project, r.kind, r.a, r.b, r.client_id, k.cell
        FROM merge_rows r CROSS JOIN rollup_cells k CROSS JOIN merge_clients c
        WHERE {cell} AND c.project = r.project AND c.client_id = r.client_id
          AND (c.old_cells IS NULL OR NOT {seen})"""))
    run("""
        INSERT INTO rollup_cells ("interval", period_start, project, kind, a, b, cell, users, total)
        SELECT * FROM (
            SELECT :interval, :start, t.project, t.kind, t.a, t.b, 0, coalesce(n.users, 0),
                   t.total
            FROM merge_cells t
            LEFT JOIN (SELECT project, kind, a, b, count(*) AS users FROM merge_new
                       GROUP BY project, kind, a, b) n
              ON n.project = t.project AND n.kind = t.kind AND n.a = t.a AND n.b = t.b) c
        WHERE true
        ON CONFLICT ("interval", period_start, project, kind, a, b) DO UPDATE SET
            users = rollup_cells.users + excluded.users,
            total = rollup_cells.total + excluded.total""")


def _merge_clients(d: Dialect, run) -> None:
    """rollup_clients and rollup_parts: a new client adds one to the part of each
    breakdown it is in; one whose greatest report is now a greater one moves from
    its old parts to the new; a client's new cells join its set."""
    profile = ", ".join(PROFILE)
    same = " AND ".join(f"c.{v} = c.old_{v}" for v in PROFILE)
    run(d.temp_table("merge_changes", f"""
        SELECT c.*, coalesce(c.old_cells, ',') || coalesce(n.cells, '') AS cells,
               CASE WHEN c.old_version IS NOT NULL AND {same} THEN 0 ELSE 1 END AS moved
        FROM merge_clients c
        LEFT JOIN (SELECT project, client_id, {d.joined('cell')} AS cells FROM merge_new
                   GROUP BY project, client_id) n
          ON n.project = c.project AND n.client_id = c.client_id
        WHERE n.cells IS NOT NULL OR c.old_version IS NULL OR NOT ({same})"""))
    # Clients that move between the same two reports are counted together first.
    old = ", ".join(f"old_{v}" for v in PROFILE)
    deltas = " UNION ALL ".join(
        f"SELECT project, '{v}' AS breakdown, {v} AS value, n AS delta FROM moves "
        f"UNION ALL SELECT project, '{v}', old_{v}, -n FROM moves "
        "WHERE old_version IS NOT NULL" for v in PROFILE)
    run(f"""
        WITH moves AS (SELECT project, {profile}, {old}, count(*) AS n FROM merge_changes
                       WHERE moved = 1 GROUP BY project, {profile}, {old})
        INSERT INTO rollup_parts ("interval", period_start, project, breakdown, value, clients)
        SELECT * FROM (
            SELECT :interval, :start, project, breakdown, value, sum(delta)
            FROM ({deltas}) x GROUP BY project, breakdown, value) g
        WHERE true
        ON CONFLICT ("interval", period_start, project, breakdown, value)
        DO UPDATE SET clients = rollup_parts.clients + excluded.clients""")
    run('DELETE FROM rollup_parts WHERE "interval" = :interval AND period_start = :start '
        "AND clients = 0")
    # New clients by a plain INSERT: half the cost of an upsert's speculative one.
    run(f"""
        INSERT INTO rollup_clients ("interval", period_start, project, client_id, {profile},
                                    cells)
        SELECT :interval, :start, project, client_id, {profile}, cells FROM merge_changes
        WHERE old_version IS NULL ORDER BY project, client_id""")
    run(f"""
        UPDATE rollup_clients SET {', '.join(f'{v} = c.{v}' for v in PROFILE)}, cells = c.cells
        FROM merge_changes c
        WHERE c.old_version IS NOT NULL AND rollup_clients."interval" = :interval
          AND rollup_clients.period_start = :start AND rollup_clients.project = c.project
          AND rollup_clients.client_id = c.client_id""")


def prune_ended(connection: Connection, d: Dialect) -> int:
    """Delete the rows of the weeks and months that had ended when the last cycle ran
    and have no day left to merge; returns how many.

    Their public rows are final, and a redone day rebuilds its periods from the
    pings: so less is kept about each client, for less time.
    """
    through = connection.execute(select(tables.public_parameters.c.value).where(
        tables.public_parameters.c.name == "aggregated_through")).scalar()
    if not through:
        return 0
    cut = date.fromisoformat(through) + timedelta(days=1)  # the last cycle's today
    complete = {_as_date(day) for day in connection.execute(select(
        tables.aggregated_days.c.day).where(tables.aggregated_days.c.complete)).scalars()}
    pending = [day for day in distinct_days(connection, d, PINGS)
               if day < cut and day not in complete]
    cut = min([cut, *pending])
    deleted = 0
    for interval in INTERVALS:
        # Every period that starts before cut's period has ended by cut.
        ended = {"interval": interval, "cut": d.date(period_start(interval, cut))}
        for table in _ROWS:
            deleted += connection.execute(text(
                f'DELETE FROM {table.name} WHERE "interval" = :interval AND period_start < :cut'),
                ended).rowcount
        connection.execute(text('UPDATE rollup_periods SET pruned = true '
                                'WHERE "interval" = :interval AND period_start < :cut'), ended)
    return deleted


def analyze(connection: Connection, d: Dialect) -> None:
    """Fresh statistics for the planner after merges (PostgreSQL's autovacuum comes
    later, and plans made on an empty table's statistics are nested loops)."""
    if d.pg:
        for table in _ROWS:
            connection.execute(text(f"ANALYZE {table.name}"))


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
