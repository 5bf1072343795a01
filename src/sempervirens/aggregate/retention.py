"""Retention: raw IPs older than the retention period are deleted, aggregates stay.

Deleted: access-log rows (IP, client_id, document_id) received before the cutoff,
the origins of addresses no longer logged, and the address kept beside an anomaly's
hash.  A day is purged only once the private store has aggregated it completely (its
record says complete), so the private aggregates exist before their raw data goes; an ended period that lost days to the purge is not counted again
(aggregate/institutions.py).  Pings hold no IP: they move to the lake when their day is
sealed (store/lake.py), and the public releases are never deleted.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import text

from . import tables
from ._sql import as_date, dialect_of
from .state import utc_today


def _first_pending(connection, state: str, day_sql: str, source: str, bound: str,
                   cutoff_value) -> date | None:
    """The first day before the cutoff that has rows but no complete aggregate."""
    value = connection.execute(text(f"""
        SELECT min({day_sql}) FROM {source}
        WHERE {bound} < :cutoff AND NOT EXISTS
            (SELECT 1 FROM {state} s WHERE s.day = {day_sql} AND s.complete)"""),
        {"cutoff": cutoff_value}).scalar()
    return None if value is None else as_date(value)


def kept_past_retention(stores, retention_days: int, today: date | None = None) -> date | None:
    """The first day older than the retention period whose addresses a purge keeps because
    the day is not aggregated completely yet (None: no such day)."""
    cutoff = (today or utc_today()) - timedelta(days=retention_days)
    with stores.private.connect() as connection:
        d = dialect_of(connection)
        return _first_pending(connection, tables.private_aggregated_days.name,
                              d.utc_day("received_at"), "access_log", "received_at",
                              d.timestamp(cutoff))


def purge_expired(stores, retention_days: int, today: date | None = None) -> int:
    """Delete what is older than `retention_days` and aggregated; returns rows deleted."""
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    today = today or utc_today()
    cutoff = today - timedelta(days=retention_days)
    with stores.private.connect() as connection:
        d = dialect_of(connection)
        pending = _first_pending(connection, tables.private_aggregated_days.name,
                                 d.utc_day("received_at"), "access_log", "received_at",
                                 d.timestamp(cutoff))
    cutoff = min(cutoff, pending or cutoff)
    with stores.private.begin() as connection:
        deleted = connection.execute(text("DELETE FROM access_log WHERE received_at < :cutoff"),
                                     {"cutoff": d.timestamp(cutoff)}).rowcount
        # An origin goes with its address's last log line, however recently it was looked
        # up (an address of a day first aggregated after the retention period, looked up
        # and purged in one cycle); while the address is still logged, a period redone
        # later reads it; it is looked up again if the address comes back; the aggregates
        # keep no address.  A join, not a correlated subquery: an anti-join in PostgreSQL,
        # an automatic index on the log's addresses in SQLite.
        deleted += connection.execute(text("""
            DELETE FROM ip_origins WHERE ip IN (
                SELECT o.ip FROM ip_origins o LEFT JOIN access_log a ON a.ip = o.ip
                WHERE a.ip IS NULL)""")).rowcount
        deleted += connection.execute(text(
            "UPDATE anomalies SET ip = NULL WHERE day < :cutoff AND ip IS NOT NULL"),
            {"cutoff": d.date(cutoff)}).rowcount
    return deleted

