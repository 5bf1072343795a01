"""HTTP-level attacks on a real server over loopback, every loop bounded.

Shared by tests/server/test_http_limits.py (which asserts what each attacker gets)
and bench/ingest.py (which measures a legitimate load beside each attack).  Each
attack takes (host, port, max_connections) and returns what the attacker got:
the status of each of its requests, None where the connection closed without one.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))


@contextmanager
def peak_rss(pid: int):
    """Samples the process's RSS every 50 ms; yields a list whose max() is the peak (KiB)."""
    samples = [rss_kib(pid)]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.05):
            samples.append(rss_kib(pid))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield samples
    finally:
        done.set()
        watcher.join(5)


def status(sock: socket.socket, timeout: float = 10.0) -> int | None:
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


def raw(address: tuple[str, int], head: bytes, body: bytes = b"", timeout: float = 10.0) -> int | None:
    with socket.create_connection(address) as sock:
        try:
            sock.sendall(head + body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused while still sending: the answer may be waiting all the same
        return status(sock, timeout)


def head(path: str | None = None, headers: tuple = (), length: int | None = None) -> bytes:
    path = path or f"/submit/numpy/usage/1/{uuid.uuid4()}"
    lines = [f"POST {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Content-Type: application/json"]
    if length is not None:
        lines.append(b"Content-Length: %d" % length)
    lines += list(headers)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def huge_headers(address, _cap: int) -> list:
    """300 requests with a 1 MB X-Forwarded-For header each (431 expected)."""
    big = b"X-Forwarded-For: " + b"1" * (1024 * 1024)
    return [raw(address, head(headers=(big,), length=2), b"{}") for _ in range(300)]


def many_headers(address, _cap: int) -> list:
    """50 requests with 150 headers (431), 50 with a 10 kB request line (414)."""
    many = tuple(b"X-H%d: v" % i for i in range(150))
    return ([raw(address, head(headers=many, length=2), b"{}") for _ in range(50)]
            + [raw(address, head(path="/submit/" + "a" * 10_000)) for _ in range(50)])


def slow_and_idle(address, _cap: int) -> list:
    """45 connections: a head that never ends, a body that never comes, or silence;
    a byte now and then (408, or closed, expected after the header/body timeouts)."""
    sockets = []
    for i in range(45):
        sock = socket.create_connection(address)
        if i % 3 == 0:
            sock.sendall(b"POST /submit/numpy/usage/1/")  # slowloris: the head never ends
        elif i % 3 == 1:
            sock.sendall(head(length=1000) + b"{")  # the body never comes
        sockets.append(sock)  # else: connected, and silent
    for _ in range(10):  # a byte now and then keeps no connection alive past its deadline
        for sock in sockets[::3]:
            try:
                sock.sendall(b"a")
            except OSError:
                pass
        time.sleep(0.15)
    statuses = [status(sock, timeout=5) for sock in sockets]
    for sock in sockets:
        sock.close()
    return statuses


def past_the_cap(address, cap: int) -> list:
    """cap + 40 connections at once; the statuses of the last 40 (503 expected)."""
    sockets = [socket.create_connection(address) for _ in range(cap + 40)]
    time.sleep(0.3)
    statuses = [status(sock, timeout=0.5) for sock in sockets[cap:]]
    for sock in sockets:
        sock.close()
    return statuses


ATTACKS: dict[str, Callable[[tuple[str, int], int], list]] = {
    "huge headers": huge_headers,
    "many headers, long request line": many_headers,
    "slow heads, slow bodies, idle connections": slow_and_idle,
    "connections past the cap": past_the_cap,
}
# The server's limits under which the attacks run (short timeouts: each attack ends
# in seconds); --max-connections is added by the caller.
LIMIT_ARGS = ("--header-timeout", "1", "--body-timeout", "1", "--keep-alive-timeout", "1",
              "--trusted-proxies", "127.0.0.1")
