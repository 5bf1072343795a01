"""Which days need aggregating: the incremental part of the cycle.

Each store records the days it has aggregated (aggregate_days, aggregate_private_days)
with how many rows the day held and whether the day was over (complete).  A day is
dirty when it has no record, or is incomplete and has changed or has just ended.
The days are listed by a loose index scan (one probe per day) and only those
without a complete record are counted, so an incremental run reads the new days
only.  Today is aggregated provisionally (except under differential privacy, which releases whole periods once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import Connection, Table, delete, select, text

from ._sql import Dialect


@dataclass(frozen=True)
class DayCounts:
    counts: dict[date, int]  # rows per day, from the first day worth looking at
    dirty: list[date]


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def distinct_days(connection, d: Dialect, source: Source) -> list[date]:
    """Every day holding rows, by a loose index scan: one index probe per day, not per row."""
    column, table = source.column, source.table
    if source.timestamp:
        after = ("(((t.v AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC')"
                 if d.pg else "date(t.v, '+1 day')")
        condition = f"{column} >= {after}"
    else:
        condition = f"{column} > t.v"
    rows = connection.execute(text(f"""
        WITH RECURSIVE t(v) AS (
            SELECT min({column}) FROM {table}
            UNION ALL
            SELECT (SELECT min({column}) FROM {table} WHERE {condition}) FROM t WHERE t.v IS NOT NULL)
        SELECT {d.utc_day('v') if source.timestamp else 'v'} FROM t WHERE v IS NOT NULL"""))
    return [_as_date(value) for (value,) in rows]


def _count(connection, d: Dialect, source: Source, day: date) -> int:
    if source.timestamp:
        sql = f"{source.column} >= :lo AND {source.column} < :hi"
        bounds = {"lo": d.timestamp(day), "hi": d.timestamp(day + timedelta(days=1))}
    else:
        sql, bounds = f"{source.column} = :lo", {"lo": d.date(day)}
    return connection.execute(text(f"SELECT count(*) FROM {source.table} WHERE {sql}"),
                              bounds).scalar()


@dataclass(frozen=True)
class Source:
    table: str  # pings or access_log
    column: str  # its indexed day or timestamp column
    timestamp: bool  # the column is a timestamp (UTC day taken from it)


PINGS = Source("pings", "day", False)
ACCESS_LOG = Source("access_log", "received_at", True)


def dirty_days(connection: Connection, state: Table, source: Source, today: date, *,
               only_complete: bool = False, everything: bool = False) -> DayCounts:
    """Days of `source` to (re)aggregate, with their row counts.

    Only days without a complete record are counted, so a cycle reads the new days
    (and any day whose record was removed, e.g. by a deletion request) only.
    """
    d = Dialect(connection.dialect.name)
    records = {_as_date(r.day): r for r in connection.execute(select(state))}
    days = set(distinct_days(connection, d, source))
    days |= {day for day, record in records.items() if not record.complete}
    counts, dirty = {}, []
    for day in sorted(days):
        record = records.get(day)
        if only_complete and day >= today:
            continue
        if record is not None and record.complete and not everything:
            continue
        counts[day] = n = _count(connection, d, source, day)
        if everything or record is None or getattr(record, _count_key(state)) != n or day < today:
            dirty.append(day)
    return DayCounts(counts, dirty)


def record_days(connection: Connection, state: Table, days: list[date], counts: dict[date, int],
                today: date, *, complete_ok: bool = True) -> None:
    now = datetime.now(timezone.utc)
    if not days:
        return
    connection.execute(delete(state).where(state.c.day.in_(days)))
    connection.execute(state.insert(), [
        {"day": day, _count_key(state): counts.get(day, 0),
         "complete": complete_ok and day < today, "aggregated_at": now}
        for day in days])


def _count_key(state: Table) -> str:
    return "pings" if "pings" in state.c else "rows"


def mark_dirty(connection: Connection, state: Table, days: list[date]) -> None:
    """For the deletion hook: these days changed after aggregation, redo them."""
    if days:
        connection.execute(state.update().where(state.c.day.in_(days)).values(complete=False))


def utc_today() -> date:
    return datetime.now(timezone.utc).date()
