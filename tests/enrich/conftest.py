"""Fixtures of the enrich tests: the real loopback DNS server of tests/_services/dns.py."""

from __future__ import annotations

import time

import pytest

from _services.dns import (  # noqa: F401 - the tests import the zone data from here
    FORWARD,
    PTR,
    SLOW_NAMES,
    SLOW_SECONDS,
    TRUNCATED_OVER_UDP,
    LoopbackDNS,
    ZoneResolver,
)


@pytest.fixture(scope="session")
def dns_server():
    server = LoopbackDNS()
    yield server
    server.close()


@pytest.fixture(scope="session")
def dns_server_v6():
    """The same server on the IPv6 loopback [::1], where the machine has one."""
    try:
        server = LoopbackDNS("::1")
    except OSError as error:
        pytest.skip(f"no IPv6 loopback here: {error}")
    yield server
    server.close()


@pytest.fixture
def elapsed():
    start = time.monotonic()
    return lambda: time.monotonic() - start
