"""Retention: no raw address older than the limit survives a purge; aggregates do."""

from __future__ import annotations

import re
from datetime import date, timedelta

from aggregate_helpers import cycle, rows
from population import Ping, client, insert
from sqlalchemy import func, select

from sempervirens import cli
from sempervirens.aggregate import tables
from sempervirens.aggregate.retention import purge_expired
from sempervirens.store.schema import access_log

TODAY = date(2026, 5, 1)
OLD, RECENT = TODAY - timedelta(days=40), TODAY - timedelta(days=5)


def _log(stores) -> list:
    with stores.private.connect() as connection:
        return connection.execute(select(access_log.c.ip, access_log.c.received_at)).all()


def test_purge_keeps_aggregates_and_no_old_address(stores, tmp_path):
    insert(stores, [Ping("numpy", client(), day, ip=f"192.0.2.{i}")
                    for day in (OLD, RECENT) for i in range(1, 13)]
           + [Ping("numpy", client(), OLD, ip="198.51.100.200") for _ in range(6)])
    data = tmp_path / "data"

    # Not aggregated yet: nothing may be purged, however old.
    assert purge_expired(stores, 30, TODAY) == 0
    assert len(_log(stores)) == 30

    cycle(stores, data, TODAY, anomaly_min_clients=5)  # aggregates, then purges
    before = rows(stores, tables.private_origin_summary)
    remaining = _log(stores)
    assert len(remaining) == 12
    assert all(str(received)[:10] >= str(TODAY - timedelta(days=30)) for _, received in remaining)
    (anomaly,) = rows(stores, tables.anomalies)
    assert anomaly.ip is None and len(anomaly.ip_hash) == 64  # the hash outlives the address
    with stores.private.connect() as connection:
        assert connection.execute(select(func.count()).select_from(tables.ip_origins)).scalar() == 0
    private_days = {str(r.period_start) for r in rows(
        stores, tables.private_origin_summary, interval="day")}
    assert private_days == {str(OLD), str(RECENT)}

    cycle(stores, data, TODAY, anomaly_min_clients=5)
    assert rows(stores, tables.private_origin_summary) == before  # not re-aggregated to nothing


def test_purge_command(sqlite_stores, tmp_path, capsys):
    insert(sqlite_stores, [Ping("numpy", client(), date.today() - timedelta(days=3))])
    cycle(sqlite_stores, tmp_path / "data", date.today(), purge=False)
    assert cli.main(["purge", "--data-dir", str(tmp_path / "data"), "--retention-days", "1"]) == 0
    purged = re.fullmatch(r"purged (\d+) rows older than 1 days\n", capsys.readouterr().out)
    assert purged and int(purged[1]) >= 1
    assert _log(sqlite_stores) == []


# An operator who runs `purge` from cron but never aggregates (serve's cycle off): the
# purge may delete nothing, and it says so instead of "purged 0 rows older than 30 days".
def test_purge_says_when_addresses_past_retention_wait_for_aggregation(sqlite_stores, tmp_path,
                                                                      capsys):
    old = date.today() - timedelta(days=40)
    insert(sqlite_stores, [Ping("numpy", client(), old)])
    assert cli.main(["purge", "--data-dir", str(tmp_path / "data")]) == 0
    out, err = capsys.readouterr()
    assert out == "purged 0 rows older than 30 days\n"
    assert f"addresses from {old} on are older than 30 days" in err
    (line,) = [line for line in err.splitlines() if "kept until" in line]
    assert "sempervirens aggregate" in line
    cycle(sqlite_stores, tmp_path / "data", date.today(), purge=False)
    assert cli.main(["purge", "--data-dir", str(tmp_path / "data")]) == 0
    out, err = capsys.readouterr()
    assert out == "purged 1 rows older than 30 days\n" and "kept until" not in err


# Addresses of days already past retention when they are first aggregated (a restored
# backup; a log that no cycle read for weeks): they are looked up, counted, and purged
# with their log rows in the same cycle.  Their origins (hostnames like 198-51-100-5.dsl...,
# which spell the address) were kept for another retention period, being looked up "now".
def test_an_origin_goes_with_the_last_log_row_of_its_address_however_recent(
        stores, tmp_path, dns_server):
    insert(stores, [Ping("numpy", client(), OLD, ip="192.0.2.10"),
                    Ping("numpy", client(), RECENT, ip="192.0.2.20")])
    cycle(stores, tmp_path / "data", TODAY, enrich=True, dns_server=dns_server.nameserver)
    assert {ip for ip, _ in _log(stores)} == {"192.0.2.20"}
    assert {r.ip for r in rows(stores, tables.ip_origins)} == {"192.0.2.20"}
    (old,) = [r for r in rows(stores, tables.private_institution_users, interval="day")
              if str(r.period_start) == str(OLD)]
    assert (old.institution, old.users) == ("Stanford University", 1)  # counted before the purge
