"""Private aggregates: distinct users per institution and kind, and at .edu domains.

Enrichment (sempervirens.enrich) runs on the distinct addresses of the new days
that have no origin yet, at most `enrich_limit` per cycle, and stores each origin in
ip_origins (private store, purged with the access log).  The private store then gives
the aggregation engine IP-free rows, the origins of each installation per UTC day
(leaving out the pings of anomalous addresses), and the engine counts them as it counts
the public statistics; the tables hold counts per project, period and institution,
never an address or a client_id.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import text

from . import tables
from ..model.periods import period_start, ranges
from ._sql import as_date, dialect_of
from .engine import compute_private, open_runner_from_settings
from .state import record_days

log = logging.getLogger("sempervirens.aggregate")
ENRICH_LIMIT = 20_000  # most new addresses looked up per cycle: DNS time is bounded


def enrich_new_addresses(engine, days: list[date], settings) -> tuple[int, bool]:
    """Enrich the addresses of these days that have no origin; (how many, more pending)."""
    from ..enrich import enrich

    with engine.connect() as connection:
        d = dialect_of(connection)
        ips = list(connection.execute(text("""
            SELECT DISTINCT a.ip FROM access_log a
            WHERE a.received_at >= :lo AND a.received_at < :hi
              AND NOT EXISTS (SELECT 1 FROM ip_origins o WHERE o.ip = a.ip)
            LIMIT :limit"""), {"lo": d.timestamp(min(days)),
                               "hi": d.timestamp(max(days) + timedelta(days=1)),
                               "limit": ENRICH_LIMIT + 1}).scalars())
    pending = len(ips) > ENRICH_LIMIT
    ips = ips[:ENRICH_LIMIT]
    if not ips:
        return 0, False
    failed: set[str] = set()  # no definite DNS answer (timeout, SERVFAIL): pending, retried next cycle
    origins = enrich(ips, nameserver=settings["dns_server"], failed=failed)
    now = datetime.now(timezone.utc)
    rows = [{"ip": ip, "hostname": o.hostname, "domain": o.domain, "institution": o.institution,
             "kind": o.kind, "enriched_at": d.instant(now)}
            for ip, o in origins.items() if ip not in failed]
    if rows:
        with engine.begin() as connection:
            # ON CONFLICT: a cycle run by hand may overlap the one inside `serve`.
            connection.execute(text(
                "INSERT INTO ip_origins (ip, hostname, domain, institution, kind, enriched_at) "
                "VALUES (:ip, :hostname, :domain, :institution, :kind, :enriched_at) "
                "ON CONFLICT (ip) DO NOTHING"), rows)
    if failed:
        log.info("enrichment: %d addresses got no DNS answer; tried again next cycle", len(failed))
    if pending:
        log.info("enrichment: %d addresses done, more left for the next cycle", len(ips))
    return len(ips), pending


def aggregate_private(store, days: list[date], counts: dict[date, int], today: date,
                      settings, *, complete_ok: bool = True) -> None:
    """Recompute, on the engine the settings choose, every period holding one of `days`."""
    runner = open_runner_from_settings(settings)
    try:
        for interval in tables.INTERVALS:
            starts = {period_start(interval, day) for day in days}
            for lo, hi in ranges(interval, starts):
                with store.connect() as connection:
                    origins = _origins(connection, lo, hi)
                found = compute_private(origins, interval, [s for s in starts if lo <= s < hi],
                                        engine=runner)
                with store.begin() as connection:
                    _replace(connection, interval, lo, hi, found)
    finally:
        runner.close()
    with store.begin() as connection:
        record_days(connection, tables.private_aggregated_days, days, counts, today,
                    complete_ok=complete_ok)


def _origins(connection, lo: date, hi: date) -> list[tuple]:
    """(project, day, client_id, kind, institution, edu), distinct, of the usage and crash
    pings received on the days [lo, hi), but those of an anomalous address."""
    d = dialect_of(connection)
    day = d.utc_day("a.received_at")
    rows = connection.execute(text(f"""
        SELECT DISTINCT a.project, {day} AS day, a.client_id,
               coalesce(o.kind, 'unknown') AS kind, o.institution,
               CASE WHEN o.domain LIKE '%.edu' THEN 1 ELSE 0 END AS edu
        FROM access_log a LEFT JOIN ip_origins o ON o.ip = a.ip
        WHERE a.received_at >= :lo AND a.received_at < :hi
          AND a.client_id IS NOT NULL AND a.ping_type IN ('usage', 'crash')
          AND NOT EXISTS (SELECT 1 FROM anomalies x
                          WHERE x.project = a.project AND x.ip = a.ip AND x.day = {day})"""),
        {"lo": d.timestamp(lo), "hi": d.timestamp(hi)})
    return [(project, as_date(day), client_id, kind, institution, edu == 1)
            for project, day, client_id, kind, institution, edu in rows]


def _replace(connection, interval: str, lo: date, hi: date, found: dict) -> None:
    """Replace the rows of the periods [lo, hi) by the engine's (its columns: the
    table's without `interval`)."""
    for table in (tables.private_institution_users, tables.private_origin_summary):
        connection.execute(table.delete().where(
            table.c.interval == interval, table.c.period_start >= lo, table.c.period_start < hi))
        names = [c.name for c in table.c if c.name != "interval"]
        rows = [{"interval": interval, **dict(zip(names, row))} for row in found[table.name]]
        if rows:
            connection.execute(table.insert(), rows)
