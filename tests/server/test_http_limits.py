"""HTTP-level limits of the real server under attack, over loopback, every loop bounded.

For each attack: the attacker gets its 4xx/503 (or its connection closed), the
server's memory stays within twice its idle size, and a legitimate client sending
pings meanwhile gets its answers with p99 <= 1 s.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
import tracemalloc
from pathlib import Path

import httpx
import pytest

from _services.server import start_server
from pings import new_id, post, usage
from sempervirens.server._client_ip import ClientAddress

pytestmark = pytest.mark.slow

LIMIT_ARGS = ("--header-timeout", "1", "--body-timeout", "1", "--keep-alive-timeout", "1",
              "--max-connections", "60", "--trusted-proxies", "127.0.0.1")


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("limits"), extra_args=LIMIT_ARGS)
    yield running
    running.stop()


def _rss_kib(server) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))


def _host_port(server) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _status(sock: socket.socket, timeout: float = 10.0) -> int | None:
    """The status of the first response on this socket, None if it closed without one."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None


def _raw(server, head: bytes, body: bytes = b"", timeout: float = 10.0) -> int | None:
    with socket.create_connection(_host_port(server)) as sock:
        try:
            sock.sendall(head + body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused while still sending: the answer may be waiting all the same
        return _status(sock, timeout)


class Legitimate:
    """A client sending real pings on its own keep-alive connection while an attack runs."""

    def __init__(self, server) -> None:
        self.server = server
        self.latencies: list[float] = []
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self.connected = threading.Event()  # its keep-alive connection is open: the attack may start
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            for _ in range(500):  # bounded; stopped when the attack ends
                if self._stop.is_set():
                    return
                started = time.monotonic()
                reply = post(client, self.server.url, usage())
                self.latencies.append(time.monotonic() - started)
                self.statuses.append(reply.status_code)
                self.connected.set()
                time.sleep(0.05)

    def __enter__(self) -> Legitimate:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(30)

    def p99(self) -> float:
        return statistics.quantiles(self.latencies, n=100)[98] if len(self.latencies) > 2 else max(self.latencies)


def _head(path: str = f"/submit/numpy/usage/1/{new_id()}", headers: tuple = (), length: int | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Content-Type: application/json"]
    if length is not None:
        lines.append(b"Content-Length: %d" % length)
    lines += list(headers)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _attack(server, attack) -> tuple[list, Legitimate, int]:
    """Run `attack` beside a legitimate client; (attack results, the client, peak RSS in KiB)."""
    peak = [_rss_kib(server)]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.05):
            peak.append(_rss_kib(server))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with Legitimate(server) as legitimate:
        assert legitimate.connected.wait(10)
        results = attack()
        time.sleep(0.3)
    done.set()
    watcher.join(5)
    return results, legitimate, max(peak)


def _check(server, idle_kib: int, legitimate: Legitimate, peak_kib: int) -> None:
    assert legitimate.statuses and set(legitimate.statuses) == {202}, set(legitimate.statuses)
    assert legitimate.p99() <= 1.0, legitimate.p99()
    assert peak_kib <= 2 * idle_kib, (peak_kib, idle_kib)


@pytest.fixture(scope="module")
def idle_kib(limited_server) -> int:
    with httpx.Client(timeout=10) as client:
        for _ in range(20):
            assert post(client, limited_server.url, usage()).status_code == 202
    return _rss_kib(limited_server)


def test_huge_headers_are_refused_with_431_and_not_held(limited_server, idle_kib):
    big = b"X-Forwarded-For: " + b"1" * (1024 * 1024)

    def attack():
        return [_raw(limited_server, _head(headers=(big,), length=2), b"{}") for _ in range(300)]
    results, legitimate, peak = _attack(limited_server, attack)
    assert set(results) <= {431, None} and results.count(431) >= 250, set(results)
    _check(limited_server, idle_kib, legitimate, peak)


def test_too_many_headers_and_a_long_request_line(limited_server, idle_kib):
    many = tuple(b"X-H%d: v" % i for i in range(150))

    def attack():
        return ([_raw(limited_server, _head(headers=many, length=2), b"{}") for _ in range(50)],
                [_raw(limited_server, _head(path="/submit/" + "a" * 10_000)) for _ in range(50)])
    (headers, lines), legitimate, peak = _attack(limited_server, attack)
    assert set(headers) == {431} and set(lines) == {414}
    _check(limited_server, idle_kib, legitimate, peak)


def test_slow_heads_slow_bodies_and_idle_connections_are_closed(limited_server, idle_kib):
    def attack():
        sockets = []
        for i in range(45):
            sock = socket.create_connection(_host_port(limited_server))
            if i % 3 == 0:
                sock.sendall(b"POST /submit/numpy/usage/1/")  # slowloris: the head never ends
            elif i % 3 == 1:
                sock.sendall(_head(length=1000) + b"{")  # the body never comes
            sockets.append(sock)  # else: connected, and silent
        for _ in range(10):  # a byte now and then keeps no connection alive past its deadline
            for sock in sockets[::3]:
                try:
                    sock.sendall(b"a")
                except OSError:
                    pass
            time.sleep(0.15)
        statuses = [_status(sock, timeout=5) for sock in sockets]
        for sock in sockets:
            sock.close()
        return statuses
    statuses, legitimate, peak = _attack(limited_server, attack)
    assert statuses.count(408) >= 30 and set(statuses) <= {408, None}, statuses
    _check(limited_server, idle_kib, legitimate, peak)


def test_connections_past_the_cap_are_refused_gracefully(limited_server, idle_kib):
    def attack():
        sockets = [socket.create_connection(_host_port(limited_server)) for _ in range(100)]
        time.sleep(0.3)
        statuses = [_status(sock, timeout=0.5) for sock in sockets[60:]]
        for sock in sockets:
            sock.close()
        return statuses
    statuses, legitimate, peak = _attack(limited_server, attack)
    assert statuses.count(503) >= 35, statuses  # the legitimate client holds one connection
    _check(limited_server, idle_kib, legitimate, peak)


def test_the_forwarded_for_cache_is_bounded_in_bytes():
    addresses = ClientAddress(("127.0.0.1",))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(300):
            header = "1" * (1024 * 1024 - 20) + f", 198.51.100.{i % 250}"
            assert addresses("127.0.0.1", header) == f"198.51.100.{i % 250}"
            del header
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 4 * 1024 * 1024, held  # was 300 MB: every header kept by the cache
