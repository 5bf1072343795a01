"""Active installations over the last 30 days: the public site's headline number.

Stored in public_active_installs with interval '30d' (period_start = the window's
first day, total only), for the window ending on the last complete UTC day and for
the window before it (the trend); each cycle replaces both.  The same suppression
applies: a count under k is not published.  Not published under differential
privacy: a rolling window would spend the budget again every day.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Connection, text

from ._sql import Dialect

WINDOW_DAYS = 30
INTERVAL = "30d"


def windows(today: date) -> list[tuple[date, date]]:
    """[first, last] days of the latest complete window and of the one before it."""
    last = today - timedelta(days=1)
    first = last - timedelta(days=WINDOW_DAYS - 1)
    return [(first, last), (first - timedelta(days=WINDOW_DAYS), first - timedelta(days=1))]


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
    for first, last in windows(today):
        params = {"first": d.date(first), "last": d.date(last), "k": k, "interval": INTERVAL}
        connection.execute(text("""
            INSERT INTO public_active_installs (project, "interval", period_start, breakdown, value, installs)
            SELECT p.project, :interval, :first, '', '', count(DISTINCT p.client_id)
            FROM pings p
            WHERE p.day >= :first AND p.day <= :last AND p.client_id IS NOT NULL
              AND p.ping_type IN ('usage', 'crash')
              AND NOT EXISTS (SELECT 1 FROM aggregate_exclusions x WHERE x.document_id = p.document_id)
            GROUP BY p.project
            HAVING count(DISTINCT p.client_id) >= :k"""), params)
