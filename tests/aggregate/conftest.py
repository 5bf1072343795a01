"""Fixtures of the aggregate tests: real stores (SQLite files, the session's PostgreSQL),
the real loopback DNS server, and a snapshot of every public table."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from _services.dns import LoopbackDNS
from sempervirens.aggregate import tables
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


def snapshot(stores) -> dict[str, list[tuple]]:
    """Every row of every public table except the freshness stamp, sorted."""
    out = {}
    with stores.telemetry.connect() as connection:
        for table in tables.PUBLIC_TABLES:
            rows = connection.execute(select(table)).all()
            out[table.name] = sorted(tuple(str(v) for v in row) for row in rows
                                     if not (table is tables.public_parameters
                                             and row.name == "updated_at"))
    return out


def rows(stores, table, **where) -> list:
    query = select(table)
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    engine = stores.private if table.metadata is tables.private else stores.telemetry
    with engine.connect() as connection:
        return connection.execute(query).all()
