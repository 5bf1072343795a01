"""Private aggregates: distinct users per institution and kind, and at .edu domains.

Enrichment (sempervirens.enrich) runs on the distinct addresses of the new days
that have no origin yet, at most `enrich_limit` per cycle, and stores each origin in
ip_origins (private store, purged with the access log).  The aggregates are then SQL
in the private store; they hold counts per project, period and institution, never
an address or a client_id, and leave out the pings of anomalous addresses.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import text

from . import tables
from ..model.periods import period_start, ranges
from ._sql import dialect_of
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


def aggregate_private(engine, days: list[date], counts: dict[date, int], today: date,
                      *, complete_ok: bool = True) -> None:
    for interval in tables.INTERVALS:
        for lo, hi in ranges(interval, {period_start(interval, day) for day in days}):
            with engine.begin() as connection:
                _aggregate_range(connection, interval, lo, hi)
    with engine.begin() as connection:
        record_days(connection, tables.private_aggregated_days, days, counts, today,
                    complete_ok=complete_ok)


def _aggregate_range(connection, interval: str, lo: date, hi: date) -> None:
    d = dialect_of(connection)
    day = d.utc_day("a.received_at")
    params = {"interval": interval, "lo": d.date(lo), "hi": d.date(hi),
              "lo_ts": d.timestamp(lo), "hi_ts": d.timestamp(hi)}
    for table in (tables.private_institution_users, tables.private_origin_summary):
        connection.execute(text(f'DELETE FROM {table.name} WHERE "interval" = :interval '
                                "AND period_start >= :lo AND period_start < :hi"), params)
    connection.execute(text("DROP TABLE IF EXISTS agg_origin_clients"))
    connection.execute(text(d.temp_table("agg_origin_clients", f"""
        SELECT DISTINCT a.project, {d.period_start(interval, day)} AS period_start, a.client_id,
               coalesce(o.kind, 'unknown') AS kind, o.institution,
               CASE WHEN o.domain LIKE '%.edu' THEN 1 ELSE 0 END AS edu
        FROM access_log a LEFT JOIN ip_origins o ON o.ip = a.ip
        WHERE a.received_at >= :lo_ts AND a.received_at < :hi_ts
          AND a.client_id IS NOT NULL AND a.ping_type IN ('usage', 'crash')
          AND NOT EXISTS (SELECT 1 FROM anomalies x
                          WHERE x.project = a.project AND x.ip = a.ip AND x.day = {day})""")),
        params)
    connection.execute(text("""
        INSERT INTO private_institution_users
            (project, "interval", period_start, institution, kind, users)
        SELECT project, :interval, period_start, institution, kind, count(DISTINCT client_id)
        FROM agg_origin_clients WHERE institution IS NOT NULL
        GROUP BY project, period_start, institution, kind"""), params)
    connection.execute(text("""
        INSERT INTO private_origin_summary
            (project, "interval", period_start, users, academic, other, unknown, edu)
        SELECT project, :interval, period_start, count(DISTINCT client_id),
               count(DISTINCT CASE WHEN kind = 'academic' THEN client_id END),
               count(DISTINCT CASE WHEN kind = 'other' THEN client_id END),
               count(DISTINCT CASE WHEN kind = 'unknown' THEN client_id END),
               count(DISTINCT CASE WHEN edu = 1 THEN client_id END)
        FROM agg_origin_clients GROUP BY project, period_start"""), params)
    connection.execute(text("DROP TABLE IF EXISTS agg_origin_clients"))
