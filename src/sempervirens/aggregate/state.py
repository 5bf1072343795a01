"""Which days need aggregating: the incremental part of the cycle.

Each store records the days it has aggregated (aggregate_days, aggregate_private_days)
with how many rows the day held and whether the day was over (complete).  A day is
dirty when it has no record, or is incomplete and has changed or has just ended.
Only days from the first incomplete record on are scanned, by the day index, so
an incremental run reads the new days only.  Today is aggregated provisionally
(except under differential privacy, which releases whole periods once).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import Connection, Table, delete, select, text



@dataclass(frozen=True)
class DayCounts:
    counts: dict[date, int]  # rows per day, from the first day worth looking at
    dirty: list[date]


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def scan_start(connection: Connection, state: Table) -> date | None:
    """The first day that may be dirty: the earliest incomplete record, else after the last."""
    incomplete = connection.execute(
        select(state.c.day).where(~state.c.complete).order_by(state.c.day).limit(1)).scalar()
    if incomplete is not None:
        return _as_date(incomplete)
    last = connection.execute(select(state.c.day).order_by(state.c.day.desc()).limit(1)).scalar()
    return None if last is None else _as_date(last) + timedelta(days=1)


def dirty_days(connection: Connection, state: Table, day_sql: str, source: str, today: date,
               bound: tuple[str, Callable[[date], object]], *, only_complete: bool = False,
               everything: bool = False) -> DayCounts:
    """Day counts of `source` grouped by `day_sql`, compared with the `state` records.

    `bound` is (indexed column, day -> value to compare it with) for the scan start:
    ("day", d.date) for pings, ("received_at", d.timestamp) for the access log.
    """
    start = None if everything else scan_start(connection, state)
    sql = f"SELECT {day_sql} AS day, count(*) FROM {source}"
    params = {}
    if start is not None:
        sql += f" WHERE {bound[0]} >= :start"
        params["start"] = bound[1](start)
    sql += f" GROUP BY {day_sql}"
    counts = {_as_date(day): n for day, n in connection.execute(text(sql), params)}
    records = {_as_date(r.day): r for r in connection.execute(
        select(state).where(state.c.day >= start) if start else select(state))}
    dirty = []
    for day in sorted(set(counts) | {day for day, r in records.items() if not r.complete}):
        if only_complete and day >= today:
            continue
        record, n = records.get(day), counts.get(day, 0)
        if everything or record is None or (
                not record.complete and (getattr(record, _count_key(state)) != n or day < today)):
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
