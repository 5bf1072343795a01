"""The privacy boundary: IP addresses reach the private store and nowhere else."""

from __future__ import annotations

import json

import httpx
import pytest
import sqlalchemy

from _services.dump import dump_store, store_urls_of
from _services.server import start_server
from pings import new_id, post, usage
from sempervirens.server._client_ip import ClientAddress
from sempervirens.store import create_store_engine

# Documentation ranges (RFC 5737, RFC 3849): they cannot collide with anything real.
ADDRESSES = [f"198.51.100.{i}" for i in range(1, 21)] + [f"2001:db8::{i:x}" for i in range(1, 11)]


@pytest.fixture
def proxied_server(tmp_path, database_args):
    running = start_server(tmp_path / "data",
                           extra_args=("--trusted-proxies", "127.0.0.1,10.0.0.0/8", *database_args))
    yield running
    running.stop()


def test_no_ip_outside_the_private_store(proxied_server):
    client_of = {}
    with httpx.Client(timeout=10) as client:
        for round_ in range(3):
            for address in ADDRESSES:
                client_id = client_of.setdefault(address, new_id())
                reply = post(client, proxied_server.url, usage(client_id),
                             headers={"X-Forwarded-For": f"{address}, 10.1.2.3"})
                assert reply.status_code == 202
    proxied_server.stop()
    telemetry_url, private_url = store_urls_of(proxied_server)

    telemetry = dump_store(telemetry_url)
    assert telemetry.count("usage") >= 3 * len(ADDRESSES)  # the dump really holds the pings
    leaked = [address for address in ADDRESSES if address in telemetry]
    assert leaked == []
    if telemetry_url.startswith("sqlite"):  # nor in the bytes of the files, free pages and WAL included
        for path in proxied_server.data_dir.glob("telemetry.db*"):
            data = path.read_bytes()
            assert not [a for a in ADDRESSES if a.encode() in data], path

    private = dump_store(private_url)
    for address, client_id in client_of.items():
        assert f"| {address} | numpy | usage | {client_id} |" in private  # the IP <-> UUID association
    # Beside an IPv6 address, its /64: the source anomaly detection counts by.
    engine = sqlalchemy.create_engine(private_url)
    with engine.connect() as connection:
        networks = dict(connection.execute(sqlalchemy.text("SELECT ip, network FROM access_log")).all())
    engine.dispose()
    assert {a: networks[a] for a in ADDRESSES if ":" in a} == {
        a: "2001:db8::/64" for a in ADDRESSES if ":" in a}
    assert {networks[a] for a in ADDRESSES if ":" not in a} == {None}
    assert not [a for a in ADDRESSES if a in proxied_server.log()]  # nor in the server's log


def test_forwarded_for_is_believed_only_from_trusted_proxies(server):
    with httpx.Client(timeout=10) as client:
        assert post(client, server.url, usage(), headers={"X-Forwarded-For": "198.51.100.77"}).status_code == 202
    assert [row["ip"] for row in server.access_log()] == ["127.0.0.1"]


def test_forwarded_chain_stops_at_the_first_untrusted_hop(proxied_server):
    with httpx.Client(timeout=10) as client:
        # The client itself claims to be 192.0.2.1; the first hop we can vouch for is 198.51.100.9.
        post(client, proxied_server.url, usage(),
             headers={"X-Forwarded-For": "192.0.2.1, 198.51.100.9, 10.0.0.7"})
    proxied_server.stop()
    assert "198.51.100.9" in dump_store(store_urls_of(proxied_server)[1])
    assert "192.0.2.1" not in dump_store(store_urls_of(proxied_server)[1])


def test_one_address_one_form_however_a_proxy_writes_it(proxied_server):
    """Ports, brackets, IPv4-mapped and upper-case IPv6, a trusted proxy in mapped form, and
    a proxy that adds an X-Forwarded-For line of its own: the client's address, canonical."""
    sent = [
        ("198.51.100.7:4711",),  # Azure's and IIS's form
        ("[2001:db8::7]:4711",), ("[2001:db8::7]",), ("2001:DB8:0:0::7",),
        ("::ffff:198.51.100.7",),
        ("198.51.100.7, ::ffff:10.0.0.9",),  # our own proxy, written as IPv4-mapped
        # HAProxy adds a line: the first proxy (10.0.0.5) wrote the client's, the second its own.
        ("198.51.100.8", "10.0.0.5"),
        # A client's own line first, then the proxy's: still only up to the first untrusted hop.
        ("192.0.2.66", "198.51.100.9"),
    ]
    with httpx.Client(timeout=10) as client:
        for lines in sent:
            headers = [("Content-Type", "application/json"),
                       *(("X-Forwarded-For", line) for line in lines)]
            reply = client.post(f"{proxied_server.url}/submit/numpy/usage/1/{new_id()}",
                                content=json.dumps(usage()), headers=headers)
            assert reply.status_code == 202, reply.text
    proxied_server.stop()
    assert _logged_addresses(proxied_server) == [
        "198.51.100.7", "2001:db8::7", "2001:db8::7", "2001:db8::7", "198.51.100.7", "198.51.100.7",
        "198.51.100.8", "198.51.100.9"]


@pytest.mark.slow
def test_a_proxy_reaching_a_dual_stack_socket_is_still_trusted(tmp_path):
    # '::' with several workers is one dual-stack socket: an IPv4 proxy's peer address is
    # ::ffff:127.0.0.1 there, and was not recognised as the trusted 127.0.0.1 (every ping
    # was logged with the proxy's address).
    running = start_server(tmp_path / "data", host="::", url_host="127.0.0.1",
                           extra_args=("--workers", "2", "--trusted-proxies", "127.0.0.1"))
    try:
        with httpx.Client(timeout=10) as client:
            reply = post(client, running.url, usage(), headers={"X-Forwarded-For": "198.51.100.20"})
            assert reply.status_code == 202
    finally:
        running.stop()
    assert [row["ip"] for row in running.access_log()] == ["198.51.100.20"]


@pytest.mark.parametrize("trusted", ["10.0.0.0/8", "::ffff:10.0.0.0/104", "::ffff:10.0.0.1"])
@pytest.mark.parametrize("peer", ["10.0.0.1", "::ffff:10.0.0.1", "::FFFF:a00:1"])
def test_a_trusted_proxy_is_one_address_however_either_side_writes_it(trusted, peer):
    addresses = ClientAddress((trusted,))
    assert addresses.trusts(peer)  # X-Forwarded-Proto of the private pages is believed too
    assert addresses(peer, "198.51.100.1") == "198.51.100.1"
    assert addresses(peer, "198.51.100.1, garbage") == "10.0.0.1"  # the proxy, in one form
    assert not ClientAddress(("10.0.0.2",)).trusts(peer) and not addresses.trusts("not an address")


def _logged_addresses(server) -> list[str]:
    engine = create_store_engine(store_urls_of(server)[1])
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT ip FROM access_log ORDER BY id")
            return [row[0] for row in rows]
    finally:
        engine.dispose()
