"""HTTPS with a real certificate authority made for the test (trustme)."""

from __future__ import annotations

import socket
import ssl
import time

import httpx
import pytest

from _services.server import start_server
from pings import post, usage


def test_a_client_that_trusts_the_ca_is_served(tls_server, tls_ca):
    context = ssl.create_default_context()
    tls_ca.configure_trust(context)
    with httpx.Client(verify=context, timeout=10) as client:
        assert post(client, tls_server.url, usage()).status_code == 202
    assert len(tls_server.pings()) == 1


def test_a_client_that_does_not_trust_the_ca_is_refused(tls_server):
    with httpx.Client(verify=ssl.create_default_context(), timeout=10) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            post(client, tls_server.url, usage())
    assert tls_server.pings() == []


def _closed(sock: socket.socket, wait: float) -> bool:
    """Whether the server closed this connection (within `wait` seconds)."""
    sock.settimeout(wait)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_connections_that_never_finish_their_handshake_are_capped_and_closed(tmp_path, tls_ca):
    # The handshake came before every limit: a client that connected and sent nothing held
    # a socket for asyncio's 60 s, past every cap (900 held against --max-connections 100
    # and a 2 s head deadline), until the process ran out of descriptors.
    cert = tls_ca.issue_cert("127.0.0.1")
    cert_path, key_path = tmp_path / "server.pem", tmp_path / "server.key"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    running = start_server(tmp_path / "data", tls_cert=str(cert_path), tls_key=str(key_path),
                           extra_args=("--max-connections", "30", "--max-connections-per-address",
                                       "10", "--header-timeout", "2"))
    host, port = running.url.removeprefix("https://").rsplit(":", 1)
    context = ssl.create_default_context()
    tls_ca.configure_trust(context)
    attacker = []
    try:
        for source in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
            for _ in range(12):  # two past the address's share
                attacker.append(socket.create_connection((host, int(port)),
                                                         source_address=(source, 0)))
        time.sleep(0.5)  # the server has seen them all; the deadline is 2 s away
        closed = [_closed(sock, 0.01) for sock in attacker]
        assert closed.count(True) == 6, closed  # each address's share is held, no more
        # Every connection is held: one more, from anywhere, is over the cap...
        late = socket.create_connection((host, int(port)), source_address=("127.0.0.5", 0))
        assert _closed(late, 1.0)
        late.close()
        # ...until the deadline for the handshake (the head's) closes them all.
        assert all(_closed(sock, 4.0) for sock in attacker)
        with httpx.Client(verify=context, timeout=10) as client:
            assert post(client, running.url, usage()).status_code == 202
    finally:
        for sock in attacker:
            sock.close()
        running.stop()
