"""Fixtures shared by the whole suite: real servers, real stores, a real CA."""

from __future__ import annotations

import socket

import pytest
import trustme
from hypothesis import settings

from _services.postgres import start_cluster
from _services.server import start_server

STORE_KINDS = ("sqlite", "postgresql")

# A property's examples are not timed: on a loaded 2-core CI machine a slow example is
# load, not a failure.  Nor is a failing example kept in a .hypothesis/ of the clone.
settings.register_profile("suite", deadline=None, database=None)
settings.load_profile("suite")


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL cluster per test worker, stopped when the session ends."""
    cluster = start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture(params=STORE_KINDS)
def store_kind(request) -> str:
    return request.param


@pytest.fixture
def database_args(store_kind, request) -> tuple[str, ...]:
    """`serve` flags selecting the store: SQLite in the data dir, or two PostgreSQL databases."""
    if store_kind == "sqlite":
        return ()
    cluster = request.getfixturevalue("postgres")
    return ("--database", cluster.create_database("telemetry"),
            "--private-database", cluster.create_database("private"))


@pytest.fixture
def server(tmp_path):
    """A real collection server over HTTP on loopback, with fresh SQLite stores."""
    running = start_server(tmp_path / "data")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(tmp_path, tls_ca):
    """The same server over HTTPS, with a certificate from `tls_ca` for 127.0.0.1 and localhost."""
    cert = tls_ca.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path = tmp_path / "server.pem", tmp_path / "server.key"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    running = start_server(tmp_path / "data", tls_cert=str(cert_path), tls_key=str(key_path))
    yield running
    running.stop()


@pytest.fixture
def silent_udp_port():
    """A loopback UDP port that receives queries and never answers them."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    sock.close()
