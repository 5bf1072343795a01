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

import functools
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import partial

from sqlalchemy import select, text

from . import tables
from ..model.periods import period_end, period_start, ranges
from ._sql import as_date, dialect_of
from .anomalies import source_sql
from .engine import compute_private, open_runner_from_settings
from .state import record_days

log = logging.getLogger("sempervirens.aggregate")
ENRICH_LIMIT = 20_000  # most new addresses looked up per cycle: DNS time is bounded
# A day whose addresses are not all looked up (DNS down, or more new addresses than a
# cycle looks up) stays incomplete, so they are tried by the next cycles, oldest first,
# for this many days after it ended; then it is recorded complete with them as unknown
# (retention waits for complete days: never longer than this).
ENRICH_RETRY_DAYS = 3
# One cycle's DNS time: each lookup, the whole batch, lookups at once (enrich's defaults).
ENRICH_TIMEOUT, ENRICH_BATCH_TIMEOUT, ENRICH_CONCURRENCY = 2.0, 30.0, 32


@dataclass(frozen=True)
class Enriched:
    looked_up: int  # addresses looked up in this cycle
    pending_from: date | None  # the first day holding an address left for the next cycle
    failed: int  # addresses without a definite DNS answer (timeout, SERVFAIL): retried


# The addresses to look up, in the order they get their turn: each source (an IPv4
# address, an IPv6 /64) has its first address looked up before any source its second,
# then first seen first.  A hostile reverse zone that never answers in time takes a lookup
# slot for the whole timeout: one source's many addresses no longer take every turn.
_CANDIDATES = """
    WITH c AS (
        SELECT a.ip, min(a.received_at) AS seen, coalesce(max(a.network), a.ip) AS src
        FROM access_log a
        WHERE a.received_at >= :lo AND a.received_at < :hi
          AND NOT EXISTS (SELECT 1 FROM ip_origins o WHERE o.ip = a.ip)
        GROUP BY a.ip),
    r AS (SELECT ip, seen, row_number() OVER (PARTITION BY src ORDER BY seen, ip) AS turn
          FROM c)
    SELECT ip, {day} AS day FROM r ORDER BY turn, seen, ip LIMIT :limit OFFSET :offset"""


# Addresses whose lookup failed lately, per private store, in this process's memory only:
# the next cycles try them after those not tried yet, so the same ones do not take every
# cycle's time while the others wait (until ENRICH_RETRY_DAYS makes them all unknown).
@functools.lru_cache(maxsize=1)
def _failed_lately():
    from ..enrich import TTLCache  # not at import: it brings dnspython

    return TTLCache(maxsize=65536, ttl=86400.0)


def enrich_new_addresses(engine, days: list[date], settings) -> Enriched:
    """Enrich the addresses of these days that have no origin: one per source in turn,
    first seen first, those whose lookup failed lately last."""
    from ..enrich import enrich

    store, failed_before = engine.url.render_as_string(hide_password=True), _failed_lately()
    fetch = ENRICH_LIMIT + len(failed_before) + 1
    with engine.connect() as connection:
        d = dialect_of(connection)
        query = text(_CANDIDATES.format(day=d.utc_day("seen")))
        bounds = {"lo": d.timestamp(min(days)), "hi": d.timestamp(max(days) + timedelta(days=1))}
        found = connection.execute(query, {**bounds, "limit": fetch, "offset": 0}).all()
        beyond = connection.execute(text(f"SELECT min(day) FROM ({query.text}) AS t"), {
            **bounds, "limit": 2**62, "offset": fetch}).scalar() if len(found) == fetch else None
    retried = {row.ip for row in found if failed_before.get((store, row.ip)) is True}
    ordered = [row for row in found if row.ip not in retried]
    ordered += [row for row in found if row.ip in retried]
    left = {as_date(row.day) for row in ordered[ENRICH_LIMIT:]}
    if beyond is not None:
        left.add(as_date(beyond))
    pending_from = min(left, default=None)
    ips = [row.ip for row in ordered[:ENRICH_LIMIT]]
    if not ips:
        return Enriched(0, None, 0)
    failed: set[str] = set()  # no definite DNS answer (timeout, SERVFAIL): pending, retried next cycle
    origins = enrich(ips, nameserver=settings["dns_server"], failed=failed,
                     timeout=ENRICH_TIMEOUT, batch_timeout=ENRICH_BATCH_TIMEOUT,
                     concurrency=ENRICH_CONCURRENCY)
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
    for ip in failed:
        failed_before.set((store, ip), True)
    if failed:
        log.info("enrichment: %d addresses got no DNS answer; tried again next cycle", len(failed))
    if pending_from:
        log.info("enrichment: %d addresses done, more left for the next cycle", len(ips))
    return Enriched(len(ips), pending_from, len(failed))


def complete_before(today: date, enriched: Enriched | None) -> date:
    """The days before this one are recorded complete: all of them but today's when every
    address was looked up; else those before the first with an address left to try, and
    at most ENRICH_RETRY_DAYS days after they ended.  Without that bound, a cycle always
    left with addresses to look up (more new ones each cycle than it looks up: a busy
    server, or one IPv6 host using a fresh address of its /64 for each ping) kept every
    day incomplete, and the retention purge, which waits for complete days, kept every
    address for good."""
    if enriched is None:
        return today
    give_up = today - timedelta(days=ENRICH_RETRY_DAYS)
    before = give_up if enriched.failed else today
    if enriched.pending_from is not None:
        before = min(before, max(enriched.pending_from, give_up))
    return before


def aggregate_private(store, days: list[date], counts: dict[date, int], today: date,
                      settings, *, complete_before: date | None = None) -> None:
    """Recompute, on the engine the settings choose, every period holding one of `days`;
    record the days before `complete_before` (default: today) as complete."""
    with store.connect() as connection:
        purged = _purged_days(connection)
    runner = open_runner_from_settings(settings)
    try:
        for interval in tables.INTERVALS:
            starts = {period_start(interval, day) for day in days}
            # A period that has ended and lost days to retention cannot be counted again
            # from the log: its rows stay as they were computed before the purge.  (With
            # a retention under a month, an open period is counted from the days left.)
            kept = {start for start in map(partial(period_start, interval), purged)
                    if period_end(interval, start) <= today}
            if starts & kept:
                log.info("private aggregates: %d %s period(s) partly purged, kept as computed",
                         len(starts & kept), interval)
            starts -= kept
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
        record_days(connection, tables.private_aggregated_days, days, counts,
                    complete_before or today)


def _purged_days(connection) -> set[date]:
    """Days aggregated with log rows that retention has since deleted: the recorded days
    before the first one the access log still holds (the purge deletes a prefix)."""
    first = connection.execute(text("SELECT min(received_at) FROM access_log")).scalar()
    state = tables.private_aggregated_days
    query = select(state.c.day).where(state.c.rows > 0, state.c.complete)
    if first is not None:
        query = query.where(state.c.day < as_date(first))
    return set(map(as_date, connection.execute(query).scalars()))


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
                          WHERE x.project = a.project AND x.day = {day}
                            AND x.ip = {source_sql('a')})"""),
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
