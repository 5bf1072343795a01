"""Fixtures of the aggregate tests: real stores (SQLite files, the session's PostgreSQL),
and the real loopback DNS server."""

from __future__ import annotations

import pytest

from _services.dns import LoopbackDNS
from sempervirens.store import open_stores


@pytest.fixture
def stores(store_kind, request, tmp_path):
    urls = (None, None)
    if store_kind == "postgresql":
        cluster = request.getfixturevalue("postgres")
        urls = (cluster.create_database("telemetry"), cluster.create_database("private"))
    opened = open_stores(tmp_path / "data", *urls)
    yield opened
    opened.dispose()


@pytest.fixture
def sqlite_stores(tmp_path):
    opened = open_stores(tmp_path / "data")
    yield opened
    opened.dispose()


@pytest.fixture(scope="session")
def dns_server():
    server = LoopbackDNS()
    yield server
    server.close()


