"""Fixtures of the cycle tests: the real loopback DNS server the cycle's enrichment asks."""

from __future__ import annotations

import pytest

from _services.dns import LoopbackDNS


@pytest.fixture(scope="session")
def dns_server():
    server = LoopbackDNS()
    yield server
    server.close()
