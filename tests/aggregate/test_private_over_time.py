"""The private pipeline over days: retention, enrichment retried, late access-log rows,
and a PostgreSQL whose time zone is not UTC."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest
from aggregate_helpers import cycle, rows
from population import Ping, client, insert
from sqlalchemy import select, update

from sempervirens.admin.deletion import delete_clients
from sempervirens.aggregate import tables
from sempervirens.aggregate._sql import as_date
from sempervirens.store import open_stores


def _summary(stores, interval, start):
    found = [r for r in rows(stores, tables.private_origin_summary, interval=interval,
                             project="numpy") if str(r.period_start) == str(start)]
    return found[0] if found else None


def _institutions(stores, interval, start):
    return {(r.institution, r.kind): r.users for r in rows(
        stores, tables.private_institution_users, interval=interval, project="numpy")
        if str(r.period_start) == str(start)}


# An ended month that lost days to retention keeps the counts made before the purge: the
# log left cannot count it again.
def test_month_recomputed_after_purge_keeps_purged_days(stores, tmp_path):
    data = tmp_path / "data"
    early = [client() for _ in range(10)]
    insert(stores, [Ping("numpy", c, date(2026, 1, 1)) for c in early])
    late = client()
    insert(stores, [Ping("numpy", late, date(2026, 1, 15)),
                    Ping("numpy", client(), date(2026, 1, 31))])
    cycle(stores, data, date(2026, 2, 1))  # aggregates January, then purges Jan 1 (30 days)
    assert _summary(stores, "month", date(2026, 1, 1)).users == 12
    # A deletion request for the Jan 15 client marks Jan 15 dirty: January is recomputed.
    delete_clients(stores, b"k" * 32, [late], settle=0)
    cycle(stores, data, date(2026, 2, 2))
    # From the log left it would be 1.  Exactly 11 would need the purged client ids; what
    # can be kept is the count made before the purge.
    assert _summary(stores, "month", date(2026, 1, 1)).users == 12
    assert _summary(stores, "day", date(2026, 1, 15)) is None  # the day itself is redone


# An old origin stays while its address is still logged: a period redone later reads it.
def test_an_old_origin_stays_while_its_address_is_logged(sqlite_stores, tmp_path, dns_server):
    stores, data = sqlite_stores, tmp_path / "data"
    stanford = "192.0.2.10"
    dns = {"dns_server": dns_server.nameserver}
    insert(stores, [Ping("numpy", client(), date(2026, 1, 3), ip=stanford)])
    cycle(stores, data, date(2026, 1, 4), enrich=True, **dns)
    with stores.private.begin() as connection:  # enrichment stamps the wall clock: simulate Jan 4
        connection.execute(update(tables.ip_origins).values(
            enriched_at=datetime(2026, 1, 4, 12, tzinfo=timezone.utc)))
    monday = date(2026, 2, 2)
    insert(stores, [Ping("numpy", client(), monday, ip=stanford)])
    cycle(stores, data, monday + timedelta(days=1), enrich=True, **dns)
    assert _institutions(stores, "week", monday) == {("Stanford University", "academic"): 1}
    insert(stores, [Ping("numpy", client(), monday + timedelta(days=1), ip="203.0.113.7")])
    cycle(stores, data, monday + timedelta(days=2), enrich=True, **dns)  # purge: cutoff Jan 5
    insert(stores, [Ping("numpy", client(), monday + timedelta(days=2), ip="203.0.113.7")])
    cycle(stores, data, monday + timedelta(days=3), enrich=True, **dns)  # week recomputed
    # The Monday row of 192.0.2.10 is still in the log (kept until Mar 4), its origin is not.
    assert _institutions(stores, "week", monday) == {("Stanford University", "academic"): 1}


# DNS down when a day is aggregated: the day stays incomplete and its addresses are tried again.
def test_dns_outage_is_retried(sqlite_stores, tmp_path, dns_server):
    from _services.ports import free_port

    stores, data = sqlite_stores, tmp_path / "data"
    day = date(2026, 3, 2)
    insert(stores, [Ping("numpy", client(), day, ip="192.0.2.10") for _ in range(3)])
    dead = f"127.0.0.1:{free_port()}"  # nothing listens: every lookup fails
    cycle(stores, data, day + timedelta(days=1), enrich=True, dns_server=dead)
    assert _institutions(stores, "day", day) == {}
    report = cycle(stores, data, day + timedelta(days=1), enrich=True,
                   dns_server=dns_server.nameserver)  # DNS is back
    assert report.enriched == 1
    assert _institutions(stores, "day", day) == {("Stanford University", "academic"): 3}


def _stores_in_time_zone(postgres, tmp_path, zone: str):
    """Both stores on PostgreSQL databases whose time zone is `zone`, not UTC."""
    import psycopg

    urls = [postgres.create_database(prefix) for prefix in ("telemetry", "private")]
    for url in urls:
        with psycopg.connect(url, autocommit=True) as connection:
            name = url.rsplit("/", 1)[1]
            connection.execute(f"ALTER DATABASE \"{name}\" SET timezone TO '{zone}'")
    return open_stores(tmp_path / "data", *urls)


# A PostgreSQL database whose time zone is not UTC: a deletion redoes the UTC day.
def test_deletion_marks_the_utc_day_on_postgres_with_local_time_zone(postgres, tmp_path):
    stores = _stores_in_time_zone(postgres, tmp_path, "America/New_York")
    try:
        data, day = tmp_path / "data", date(2026, 3, 3)
        gone = client()
        insert(stores, [Ping("numpy", gone, day, hour=2)]  # 02:00 UTC = 21:00 Mar 2 in New York
               + [Ping("numpy", client(), day) for _ in range(4)])
        cycle(stores, data, date(2026, 3, 5))
        assert _summary(stores, "day", day).users == 5
        delete_clients(stores, b"k" * 32, [gone], settle=0)
        cycle(stores, data, date(2026, 3, 6))
        assert _summary(stores, "day", day).users == 4
    finally:
        stores.dispose()


# Access-log rows of a day committed after the day was recorded complete (a lagging
# ingestion worker's clock, a batch committed after midnight) are aggregated: a crowded
# address is detected with all its installations.
def test_late_rows_of_a_completed_day_are_aggregated(sqlite_stores, tmp_path):
    stores, data = sqlite_stores, tmp_path / "data"
    day, crowded = date(2026, 3, 2), "198.51.100.200"
    insert(stores, [Ping("numpy", client(), day, ip=crowded, hour=23) for _ in range(20)])
    config = dict(anomaly_min_clients=30, seal_grace_hours=6)
    from sempervirens import settings
    from sempervirens.cycle.run import run_cycle
    resolved = settings.resolve(data_dir=str(data), **config)
    run_cycle(stores, resolved,
              now=datetime.combine(day + timedelta(days=1), time(0, 0, 30), timezone.utc),
              enrich=False)  # just after midnight: Mar 2 recorded complete with 20 rows
    insert(stores, [Ping("numpy", client(), day, ip=crowded, hour=23) for _ in range(20)])  # late
    cycle(stores, data, day + timedelta(days=1), **config)  # noon: seals Mar 2
    (anomaly,) = rows(stores, tables.anomalies)
    assert anomaly.clients == 40


# A PostgreSQL database whose time zone is not UTC: the writer's UTC text (no offset) is
# read as UTC, so a ping's access-log day (anomalies) is its telemetry day (sealing).
def test_writer_keeps_utc_on_postgres_with_local_time_zone(postgres, tmp_path):
    import asyncio

    from pings import usage
    from sqlalchemy import select

    from sempervirens.protocol import validate_ping
    from sempervirens.store.schema import access_log, pings
    from sempervirens.store.writer import Accepted, Writer

    stores = _stores_in_time_zone(postgres, tmp_path, "Europe/Berlin")
    received = datetime(2026, 3, 2, 23, 30, tzinfo=timezone.utc)

    async def write():
        writer = Writer(stores)
        writer.start()
        try:
            await writer.submit(Accepted(str(__import__("uuid").uuid4()), "numpy",
                                         validate_ping("usage", usage()), received, "192.0.2.10"))
        finally:
            await writer.stop()
    try:
        asyncio.run(write())
        with stores.private.connect() as connection:
            (logged,) = connection.execute(select(access_log.c.received_at)).scalars()
        with stores.telemetry.connect() as connection:
            (stored, day) = connection.execute(select(pings.c.received_at, pings.c.day)).one()
        assert str(day) == "2026-03-02"
        assert stored == received and logged == received
    finally:
        stores.dispose()


def test_a_day_whose_lookups_always_fail_completes_after_the_retry_days(sqlite_stores, tmp_path,
                                                                        dns_server):
    from sempervirens.aggregate.retention import purge_expired

    stores, data = sqlite_stores, tmp_path / "data"
    day = date(2026, 3, 2)
    insert(stores, [Ping("numpy", client(), day, ip="192.0.2.90")])  # SERVFAIL, every time
    for later in range(1, 6):
        cycle(stores, data, day + timedelta(days=later), enrich=True,
              dns_server=dns_server.nameserver)
    (record,) = rows(stores, tables.private_aggregated_days)
    assert record.complete  # retention is never blocked for good
    assert purge_expired(stores, 1, day + timedelta(days=6)) > 0


# More new addresses every cycle than a cycle looks up (a busy server; one IPv6 host using a
# fresh address of its /64 for each ping): the oldest are looked up first, and a day is
# complete at most ENRICH_RETRY_DAYS after it ended, so retention goes on purging.  A limit
# of 2 addresses a cycle stands for the 20,000 of production.
def test_an_endless_backlog_of_addresses_does_not_stop_retention(stores, tmp_path,
                                                                  dns_server, monkeypatch):
    from sempervirens.aggregate import institutions
    from sempervirens.store.schema import access_log

    monkeypatch.setattr(institutions, "ENRICH_LIMIT", 2)
    data, start, looked_up = tmp_path / "data", date(2026, 1, 1), 0
    for n in range(12):
        day = start + timedelta(days=n)
        insert(stores, [Ping("numpy", client(), day, ip=f"2001:db8::{n}:{i}") for i in range(3)])
        looked_up += cycle(stores, data, day + timedelta(days=1), enrich=True,
                           dns_server=dns_server.nameserver, retention_days=5).enriched
    with stores.private.connect() as connection:
        first = connection.execute(select(access_log.c.received_at).order_by(
            access_log.c.received_at)).scalars().first()
    assert str(first) >= str(start + timedelta(days=12 - 5))  # nothing older than 5 days
    complete = {r.day for r in rows(stores, tables.private_aggregated_days) if r.complete}
    assert date(2026, 1, 8) in {as_date(day) for day in complete}
    days_of = {int(r.ip.split(":")[-2]) for r in rows(stores, tables.ip_origins)}
    assert looked_up == 24 and days_of == {7, 8}  # the oldest first; 7 and 8 still logged


def _slow_zone_then_others(stores, day, networks: int):
    """12 addresses of the slow reverse zone 2001:db8:bad::/48 first seen at midnight (from
    one /64, or one in each of 12 /64s), then 3 ordinary ones: one /64 seen later."""
    slow = [f"2001:db8:bad:{i % networks}::{i + 1}" for i in range(12)]
    insert(stores, [Ping("numpy", client(), day, ip=ip, hour=0) for ip in slow]
           + [Ping("numpy", client(), day, ip=ip, hour=9)
              for ip in ("192.0.2.10", "192.0.2.20", "198.51.100.5")])


# A reverse zone that never answers in time (its operator's choice) takes a whole lookup
# slot for the full timeout each time.  Its addresses seen first took every cycle's lookup
# time, day after day, and everyone else's addresses counted as unknown.  Now each source
# (an IPv4 address, an IPv6 /64) has one turn before any has a second, and addresses whose
# lookup failed lately wait until the others have had theirs.  The time limits are made
# small (2 lookups at once, 0.2 s each, 1 s a cycle) to stand for production's.
@pytest.mark.parametrize("networks", [1, 12], ids=["one /64", "twelve /64s"])
def test_a_reverse_zone_that_never_answers_does_not_starve_the_others(
        sqlite_stores, tmp_path, dns_server, monkeypatch, networks):
    from sempervirens.aggregate import institutions

    for name, value in (("ENRICH_TIMEOUT", 0.2), ("ENRICH_BATCH_TIMEOUT", 1.0),
                        ("ENRICH_CONCURRENCY", 2)):
        monkeypatch.setattr(institutions, name, value)
    stores, data, day = sqlite_stores, tmp_path / "data", date(2026, 3, 2)
    _slow_zone_then_others(stores, day, networks)
    for _ in range(2):
        cycle(stores, data, day + timedelta(days=1), enrich=True,
              dns_server=dns_server.nameserver)
    assert _institutions(stores, "day", day) == {
        ("Stanford University", "academic"): 1, ("University of Oxford", "academic"): 1,
        ("example-corp.com", "other"): 1}
