"""Private aggregates from real reverse DNS: institutions, kinds, .edu; no address kept."""

from __future__ import annotations

import logging
from datetime import date

from aggregate_helpers import cycle, rows
from population import Ping, client, insert
from sqlalchemy import inspect

from sempervirens.aggregate import tables

DAY, TODAY = date(2026, 3, 2), date(2026, 3, 20)
ADDRESSES = {  # address -> clients behind it (see tests/_services/dns.py)
    "192.0.2.10": 3,  # node1.cs.stanford.edu
    "192.0.2.40": 2,  # gw.small-college.edu (not in swot)
    "192.0.2.20": 4,  # ws1.physics.ox.ac.uk
    "198.51.100.5": 5,  # host.example-corp.com
    "198.51.100.66": 1,  # spoofed PTR x.mit.edu
    "203.0.113.7": 2,  # no PTR
}


def test_institutions_kinds_and_edu(stores, tmp_path, dns_server, caplog):
    caplog.set_level(logging.DEBUG)
    insert(stores, [Ping("numpy", client(), DAY, ip=ip)
                    for ip, n in ADDRESSES.items() for _ in range(n)])
    report = cycle(stores, tmp_path / "data", TODAY, enrich=True, dns_server=dns_server.nameserver)
    assert report.enriched == len(ADDRESSES)

    by_institution = {(r.institution, r.kind): r.users for r in rows(
        stores, tables.private_institution_users, interval="day", project="numpy")}
    assert by_institution == {("Stanford University", "academic"): 3,
                              ("small-college.edu", "academic"): 2,
                              ("University of Oxford", "academic"): 4,
                              ("example-corp.com", "other"): 5}
    (summary,) = rows(stores, tables.private_origin_summary, interval="month", project="numpy")
    assert (summary.users, summary.academic, summary.other, summary.unknown, summary.edu) == (
        17, 9, 5, 3, 5)

    # The private aggregates hold no address and no client UUID.
    columns = inspect(stores.private)
    for table in (tables.private_institution_users, tables.private_origin_summary):
        names = {c["name"] for c in columns.get_columns(table.name)}
        assert not names & {"ip", "client_id", "hostname", "ip_hash"}
    # Nothing at INFO or above names an address or a host.
    loud = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert not any(ip in loud for ip in ADDRESSES)
    assert "stanford" not in loud and "example-corp" not in loud


# A hostile operator confirms PTR names of its own that are no hostname: 776 characters of
# \000 escapes (a VARCHAR(255) on PostgreSQL failed the whole batch, every cycle, and with
# it the aggregates, deletions and the purge), escaped control characters.
def test_a_ptr_name_that_is_no_hostname_is_no_origin(stores, tmp_path, dns_server):
    from _services.dns import HOSTILE

    hostile = list(HOSTILE)
    insert(stores, [Ping("numpy", client(), DAY, ip=ip) for ip in [*hostile, "192.0.2.10"]])
    report = cycle(stores, tmp_path / "data", TODAY, enrich=True, dns_server=dns_server.nameserver)
    assert report.enriched == len(hostile) + 1
    origins = {r.ip: r for r in rows(stores, tables.ip_origins)}
    assert [(origins[ip].hostname, origins[ip].kind) for ip in hostile] == [(None, "unknown")] * 3
    assert origins["192.0.2.10"].hostname == "node1.cs.stanford.edu"
    (summary,) = rows(stores, tables.private_origin_summary, interval="day", project="numpy")
    assert (summary.users, summary.academic, summary.unknown) == (4, 1, 3)
