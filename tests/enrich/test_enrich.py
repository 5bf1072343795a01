"""IP address -> Origin, end to end against the real loopback DNS server."""

from __future__ import annotations

import dataclasses
import logging

import pytest

import sempervirens.enrich as enrich_package
from sempervirens.enrich import ACADEMIC, OTHER, UNKNOWN, Origin, TTLCache, enrich

EXPECTED = {
    "192.0.2.10": Origin("node1.cs.stanford.edu", "stanford.edu", "Stanford University", ACADEMIC),
    "192.0.2.20": Origin("ws1.physics.ox.ac.uk", "ox.ac.uk", "University of Oxford", ACADEMIC),
    "192.0.2.30": Origin("host.lbl.gov", "lbl.gov", "Lawrence Berkeley National Laboratory",
                         ACADEMIC),
    "192.0.2.40": Origin("gw.small-college.edu", "small-college.edu", "small-college.edu",
                         ACADEMIC),
    "2001:db8::42": Origin("v6host.cs.u-tokyo.ac.jp", "u-tokyo.ac.jp", "University of Tokyo",
                           ACADEMIC),
    "198.51.100.5": Origin("host.example-corp.com", "example-corp.com", "example-corp.com",
                           OTHER),
    "192.0.2.50": Origin("real.example.org", "example.org", "example.org", OTHER),
    "198.51.100.66": Origin(None, None, None, UNKNOWN),  # spoofed PTR x.mit.edu
    "198.51.100.77": Origin(None, None, None, UNKNOWN),  # PTR to a name that does not exist
    "203.0.113.7": Origin(None, None, None, UNKNOWN),  # no PTR
}


def test_institutions_and_kinds(dns_server):
    origins = enrich(EXPECTED, nameserver=dns_server.nameserver, timeout=1.0,
                     batch_timeout=5.0, cache=TTLCache())
    assert origins == EXPECTED


def test_dns_down_gives_unknown_for_all(silent_udp_port, elapsed):
    origins = enrich(["192.0.2.10", "2001:db8::42"], nameserver=silent_udp_port,
                     timeout=0.4, batch_timeout=1.0, cache=None)
    assert set(origins.values()) == {Origin(None, None, None, UNKNOWN)}
    assert elapsed() < 2.0


def test_origin_is_frozen():
    origin = EXPECTED["192.0.2.10"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        origin.kind = OTHER  # type: ignore[misc]
    assert [field.name for field in dataclasses.fields(Origin)] == [
        "hostname", "domain", "institution", "kind",
    ]


def test_no_address_or_hostname_is_logged_above_debug(dns_server, silent_udp_port, caplog):
    caplog.set_level(logging.DEBUG, logger="sempervirens.enrich")
    enrich(EXPECTED, nameserver=dns_server.nameserver, timeout=1.0, cache=None)
    enrich(["192.0.2.10", "198.51.100.5"], nameserver=silent_udp_port, timeout=0.3,
           batch_timeout=0.5, cache=None)
    enrich(["192.0.2.60"], nameserver=dns_server.nameserver, timeout=0.3, cache=None)
    secrets = set(EXPECTED) | {"192.0.2.10", "198.51.100.5", "192.0.2.60"}
    secrets |= {o.hostname for o in EXPECTED.values() if o.hostname} | {"x.mit.edu"}
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert loud, "the failed lookups should be reported (without addresses)"
    assert not [m for m in loud if any(secret in m for secret in secrets)]
    quiet = " ".join(r.getMessage() for r in caplog.records if r.levelno < logging.INFO)
    assert "192.0.2.10" in quiet  # they are there for whoever turns on debug


def test_public_surface():
    assert sorted(enrich_package.__all__) == sorted([
        "ACADEMIC", "DEFAULT_BATCH_TIMEOUT", "DEFAULT_CONCURRENCY", "DEFAULT_TIMEOUT", "Kind",
        "Nameserver", "OTHER", "Origin", "TTLCache", "UNKNOWN", "classify", "enrich",
        "enrich_async", "origin_of_hostname", "parse_nameserver", "registered_domain",
        "research_labs", "resolve_many", "resolve_many_sync",
    ])
    for name in enrich_package.__all__:
        assert hasattr(enrich_package, name)
