"""Loud early failures: `serve` checks every setting before listening; logs stay readable under faults."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from _services.ports import free_port
from _services.server import start_server
from pings import post, usage
from sempervirens.server._logging import RateLimitedLog


def _serve(tmp_path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SEMPERVIRENS_")}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "sempervirens", "serve", "--data-dir", str(tmp_path / "data"),
                           "--port", str(free_port()), *args], capture_output=True, text=True, timeout=60,
                          env=environment)


@pytest.mark.parametrize("args, env, says", [
    (("--port", "70000"), None, "--port 70000: must be from 1 to 65535"),
    (("--log-level", "loud"), None, "--log-level loud: must be one of"),
    (("--trusted-proxies", "10.0.0.300"), None, "'10.0.0.300' is not an IP address or network"),
    ((), {"SEMPERVIRENS_SECRET_KEY": "short"}, "secret_key (SEMPERVIRENS_SECRET_KEY): must be at least 32"),
    (("--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key"), None, "--tls-cert /nonexistent.pem: no such"),
    (("--tls-cert", "/etc/hostname",), None, "--tls-cert and --tls-key go together"),
    (("--store-timeout", "0"), None, "--store-timeout 0.0: must be a positive number"),
    (("--database", "postgresql://nobody@127.0.0.1:1/none"), None, "cannot open the stores (OperationalError"),
    ((), {"SEMPERVIRENS_DNS_SERVER": "[::1"}, "--dns-server '[::1'"),
    ((), {"SEMPERVIRENS_ENGINE": "duckdbb"}, "SEMPERVIRENS_ENGINE: must be duckdb or spark"),
    # The cycle's engine is checked at start, not at its first due job hours later
    (("--engine", "spark", "--spark-master", "spark://127.0.0.1:{closed}"), None,
     "--engine spark: spark: cannot reach the master at 127.0.0.1:{closed}: Connection refused"),
    (("--engine", "spark"), {"PATH": "/nonexistent", "JAVA_HOME": ""},
     "--engine spark: spark: no Java found"),
    (("--engine-temp-dir", "{tmp}/a-file/spill"), None,
     "--engine duckdb: engine temp dir {tmp}/a-file/spill: {tmp}/a-file is not a writable "
     "directory"),
])
def test_a_bad_setting_stops_serve_with_one_clear_line(tmp_path, args, env, says):
    (tmp_path / "a-file").write_text("")
    where = {"closed": free_port(), "tmp": tmp_path}  # nothing listens on that port
    args, says = tuple(a.format(**where) for a in args), says.format(**where)
    result = _serve(tmp_path, *args, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sempervirens serve: ") and says in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_a_tls_key_that_does_not_match_is_refused(tmp_path, tls_ca):
    one, other = tls_ca.issue_cert("127.0.0.1"), tls_ca.issue_cert("127.0.0.1")
    one.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    other.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    result = _serve(tmp_path, "--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem"))
    assert result.returncode == 2 and "not a matching PEM certificate and key" in result.stderr


def test_a_client_going_away_is_debug_and_errors_are_one_line_with_a_request_id(tmp_path):
    server = start_server(tmp_path / "data")
    try:
        host, port = server.url.removeprefix("http://").rsplit(":", 1)
        for _ in range(5):  # a body promised and never sent: the client hangs up
            with socket.create_connection((host, int(port))) as sock:
                sock.sendall(b"POST /submit/numpy/usage/1/6f1c0a4e-1b2c-4d5e-8f90-123456789abc HTTP/1.1\r\n"
                             b"Host: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{")
            time.sleep(0.05)
        with httpx.Client(timeout=10) as client:
            assert post(client, server.url, usage()).status_code == 202
            reply = client.get(server.url + "/private", headers={"Cookie": "sv_session=x" * 2})
            assert reply.status_code < 500
    finally:
        server.stop()
    log = server.log()
    assert "Traceback" not in log and "ClientDisconnect" not in log and "Exception in ASGI" not in log
    assert " ERROR " not in log


def test_identical_errors_are_rate_limited(caplog):
    now = [0.0]
    limited = RateLimitedLog(logging.getLogger("tests.limited"), interval=10, clock=lambda: now[0])
    with caplog.at_level(logging.ERROR, "tests.limited"):
        for _ in range(1000):
            limited.log(logging.ERROR, "503 store_unavailable", "503 store_unavailable (request %s)", "r")
        now[0] = 11.0
        limited.log(logging.ERROR, "503 store_unavailable", "503 store_unavailable (request %s)", "r")
        limited.log(logging.ERROR, "500 TypeError", "500 TypeError (request %s)", "s")
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ["503 store_unavailable (request r)",
                        "503 store_unavailable (request r) (999 more like it in the last 10 s not logged)",
                        "500 TypeError (request s)"]


def _exchange(address: tuple[str, int], request: bytes) -> tuple[int, bytes]:
    """Send one request; (the client's own port, the whole answer)."""
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return sock.getsockname()[1], answer


def test_no_request_makes_uvicorn_log_an_address_or_a_line_per_request(tmp_path):
    server = start_server(tmp_path / "data")
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    address = (host, int(port))
    handshake = ("GET /submit/numpy/{n}?attacker-text HTTP/1.1\r\nHost: x\r\n"
                 "Connection: Upgrade, close\r\nUpgrade: websocket\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n")
    try:
        ports, answers = [], []
        for n in range(100):
            for request in (b"GARBAGE / HTTP/9\r\n\r\n", handshake.format(n=n).encode(),
                            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, close\r\n"
                            b"Upgrade: h2c\r\n\r\n"):
                client_port, answer = _exchange(address, request)
                ports.append(client_port)
                answers.append(answer)
    finally:
        server.stop()
    log = server.log()
    # A request httptools cannot parse gets the documented JSON error, as every refusal.
    garbage = answers[0]
    assert garbage.startswith(b"HTTP/1.1 400 "), garbage
    assert b'"code": "malformed_request"' in garbage, garbage
    # The WebSocket handshake is plain HTTP to a server that has no WebSocket route.
    assert answers[1].startswith(b"HTTP/1.1 404 "), answers[1]
    assert answers[2].startswith(b"HTTP/1.1 200 "), answers[2]
    # uvicorn's WebSocket protocol logged '127.0.0.1:<port> - "WebSocket /path?query" 403'
    # at INFO for each handshake: the client's address, and 8 KB of its text a line.
    assert not [p for p in ports if f":{p} " in log], log[-2000:]
    assert "attacker-text" not in log and "WebSocket" not in log
    # 300 bad requests are a few lines, not 300 (one a kind per 10 s at most).
    assert log.count("Invalid HTTP request") <= 1, log[-2000:]
    assert log.count("Unsupported upgrade") == 0, log[-2000:]
    assert len(log.splitlines()) < 20, log[-2000:]
