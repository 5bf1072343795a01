"""Which days of the access log need their private aggregates (re)computed.

The private store records the days it has aggregated (aggregate_private_days) with how
many access-log rows the day held and whether the day was over (complete).  A day is
dirty when it has no record, or is incomplete and has changed or has ended, or is one
of the last RECOUNT_DAYS and its rows changed after it was recorded complete.  The days
are listed by a loose index scan (one probe per day) and only those without a complete
record, or recent, are counted, so an incremental run reads the new days only.  Today
is aggregated provisionally.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import Connection, Table, delete, select, text

from ._sql import Dialect, as_date


# Complete days this recent are counted again each cycle and redone if their rows changed:
# rows of a day committed after it was recorded complete (a batch committed just after
# midnight, an ingestion worker whose clock lags) are aggregated and checked for anomalies.
RECOUNT_DAYS = 2


@dataclass(frozen=True)
class DayCounts:
    counts: dict[date, int]  # rows per day, from the first day worth looking at
    dirty: list[date]


def distinct_days(connection, d: Dialect) -> list[date]:
    """Every UTC day holding access-log rows, by a loose index scan: one index probe per
    day, not per row."""
    after = ("(((t.v AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC')"
             if d.pg else "date(t.v, '+1 day')")
    rows = connection.execute(text(f"""
        WITH RECURSIVE t(v) AS (
            SELECT min(received_at) FROM access_log
            UNION ALL
            SELECT (SELECT min(received_at) FROM access_log WHERE received_at >= {after})
            FROM t WHERE t.v IS NOT NULL)
        SELECT {d.utc_day('v')} FROM t WHERE v IS NOT NULL"""))
    return [as_date(value) for (value,) in rows]


def _count(connection, d: Dialect, day: date) -> int:
    return connection.execute(
        text("SELECT count(*) FROM access_log WHERE received_at >= :lo AND received_at < :hi"),
        {"lo": d.timestamp(day), "hi": d.timestamp(day + timedelta(days=1))}).scalar()


def dirty_days(connection: Connection, state: Table, today: date) -> DayCounts:
    """Days of the access log to (re)aggregate, with their row counts.

    Only days without a complete record are counted, so a cycle reads the new days
    (and any day whose record was removed, e.g. by a deletion request) only.
    """
    d = Dialect(connection.dialect.name)
    records = {as_date(r.day): r for r in connection.execute(select(state))}
    days = set(distinct_days(connection, d))
    days |= {day for day, record in records.items() if not record.complete}
    counts, dirty = {}, []
    recount_from = today - timedelta(days=RECOUNT_DAYS)
    for day in sorted(days):
        record = records.get(day)
        if record is not None and record.complete and day < recount_from:
            continue
        counts[day] = n = _count(connection, d, day)
        if record is None or record.rows != n or (day < today and not record.complete):
            dirty.append(day)
    return DayCounts(counts, dirty)


def record_days(connection: Connection, state: Table, days: list[date], counts: dict[date, int],
                complete_before: date) -> None:
    """Record these days as aggregated; those from `complete_before` on stay incomplete
    (today, and days with work left: they are redone next cycle)."""
    now = datetime.now(timezone.utc)
    if not days:
        return
    connection.execute(delete(state).where(state.c.day.in_(days)))
    connection.execute(state.insert(), [
        {"day": day, "rows": counts.get(day, 0),
         "complete": day < complete_before, "aggregated_at": now}
        for day in days])


def mark_dirty(connection: Connection, state: Table, days: list[date]) -> None:
    """For the deletion hook: these days changed after aggregation, redo them."""
    if days:
        connection.execute(state.update().where(state.c.day.in_(days)).values(complete=False))


def utc_today() -> date:
    return datetime.now(timezone.utc).date()
