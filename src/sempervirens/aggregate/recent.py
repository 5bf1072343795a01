"""Active installations over the last 30 days: the public site's headline number.

Stored in public_active_installs with interval '30d' (period_start = the window's
first day, total only), for the window ending on the last complete UTC day and for
the window before it (the trend); each cycle that moves them replaces both.  The
same suppression applies: a count under k is not published.  Not published under
differential privacy: a rolling window would spend the budget again every day.

Counting distinct clients over 30 days of pings would re-read a month of pings
every day.  Instead client_days_seen keeps, per project and client, a bitmap of
the days it was active on (bit i: last_day - i, 62 days), in the manner of
Mozilla's clients_last_seen: each finished day is merged in once (an upsert of
that day's clients), and both windows are counted from the bitmaps.  A redone day
(a deletion request, anomaly exclusions) rebuilds the bitmaps from the pings.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Connection, text

from ._sql import Dialect
from .public import client_pings

WINDOW_DAYS = 30
INTERVAL = "30d"
_KEPT = 62  # days a bitmap covers: both windows, within a signed 64-bit integer
_MASK = (1 << _KEPT) - 1
_WINDOW = (1 << WINDOW_DAYS) - 1


def windows(today: date) -> list[tuple[date, date]]:
    """[first, last] days of the latest complete window and of the one before it."""
    last = today - timedelta(days=1)
    first = last - timedelta(days=WINDOW_DAYS - 1)
    return [(first, last), (first - timedelta(days=WINDOW_DAYS), first - timedelta(days=1))]


def merge_days(connection: Connection, d: Dialect, days: list[date], today: date) -> None:
    """Bring the bitmaps up to date with the finished days among `days` (new or
    redone), whose clients are read from base_clients (public.base_lanes)."""
    days = sorted(day for day in days if day < today)
    if not days:
        return
    through = connection.execute(text("SELECT max(last_day) FROM client_days_seen")).scalar()
    if through is None or days[0] <= date.fromisoformat(str(through)[:10]):
        _rebuild(connection, d, today - timedelta(days=1))
        return
    for day in days:
        if day > today - timedelta(days=_KEPT + 1):
            _merge(connection, d, day)


def _merge(connection: Connection, d: Dialect, day: date) -> None:
    gap = d.days_between("excluded.last_day", "client_days_seen.last_day")
    literal = d.date_literal(day)
    connection.execute(text(f"""
        INSERT INTO client_days_seen (project, client_id, last_day, days)
        SELECT * FROM (
            SELECT project, client_id, {literal} AS last_day, 1 AS days
            FROM base_clients WHERE day = {literal}
            ORDER BY project, client_id) s  -- in the key's order: each page once
        WHERE true
        ON CONFLICT (project, client_id) DO UPDATE SET
            days = CASE WHEN {gap} >= {_KEPT} THEN 1
                        ELSE ((client_days_seen.days << {gap}) & {_MASK}) | 1 END,
            last_day = excluded.last_day"""))


def _rebuild(connection: Connection, d: Dialect, last: date) -> None:
    """Every bitmap again, from the pings of the kept days up to `last`."""
    first = last - timedelta(days=_KEPT - 1)
    connection.execute(text("DELETE FROM client_days_seen"))
    connection.execute(text(f"""
        INSERT INTO client_days_seen (project, client_id, last_day, days)
        SELECT project, client_id, {d.date_literal(last)}, sum(bit) FROM (
            SELECT DISTINCT p.project, p.client_id,
                   CAST(1 AS BIGINT) << {d.days_between(d.date_literal(last), 'p.day')} AS bit
            FROM pings p WHERE {client_pings(connection, d, first, last + timedelta(days=1))}) s
        GROUP BY project, client_id"""))


def publish_recent(connection: Connection, d: Dialect, today: date, k: int, *, dp: bool,
                   new_data: bool) -> None:
    """Replace the two windows; skipped when neither the data nor the windows moved."""
    published = connection.execute(text(
        'SELECT max(period_start) FROM public_active_installs WHERE "interval" = :interval'),
        {"interval": INTERVAL}).scalar()
    if not new_data and not dp and published is not None and str(published) == str(windows(today)[0][0]):
        return
    connection.execute(text('DELETE FROM public_active_installs WHERE "interval" = :interval'),
                       {"interval": INTERVAL})
    if dp:
        return
    (first, last), (earlier, _) = windows(today)
    # Bit j of `seen` is set if the client was active on day `last` - j.
    seen = f"(days << {d.days_between(d.date_literal(last), 'last_day')})"
    counts = f"""
        SELECT project,
               sum(CASE WHEN ({seen} & {_WINDOW}) <> 0 THEN 1 ELSE 0 END) AS latest,
               sum(CASE WHEN (({seen} >> {WINDOW_DAYS}) & {_WINDOW}) <> 0 THEN 1 ELSE 0 END) AS earlier
        FROM client_days_seen WHERE last_day >= {d.date_literal(earlier)}
        GROUP BY project"""
    # Both windows from one pass over the bitmaps.
    connection.execute(text(f"""
        WITH counts AS ({counts})
        INSERT INTO public_active_installs (project, "interval", period_start, breakdown, value, installs)
        SELECT project, :interval, :first, '', '', latest FROM counts WHERE latest >= :k
        UNION ALL
        SELECT project, :interval, :earlier, '', '', earlier FROM counts WHERE earlier >= :k"""),
        {"interval": INTERVAL, "first": d.date(first), "earlier": d.date(earlier), "k": k})
