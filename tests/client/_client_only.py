"""Fixtures of the suite's root conftest, for the client's tests on other Pythons.

Loaded by tests/client/pythons.ini only.  The collection server runs on the main
virtual environment's Python (CLIENT_TESTS_SERVER_PYTHON), on loopback, as the
root conftest starts it; what needs the test extra (trustme's CA) is skipped.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest


class _Server:
    def __init__(self, data_dir: Path, python: str) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.data_dir = data_dir
        self.url = f"http://127.0.0.1:{port}"
        data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEMPERVIRENS_")}
        args = [python, "-m", "sempervirens", "serve", "--host", "127.0.0.1", "--port", str(port),
                "--data-dir", str(data_dir)]
        with open(data_dir / "server.log", "ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((data_dir / "server.log").read_text(errors="replace"))
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            try:
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.05)
            finally:
                connection.close()  # also after a refusal: no unclosed socket warning
        self.stop()
        raise RuntimeError("server not healthy within 30 s")

    def pings(self) -> list[dict]:
        path = self.data_dir / "telemetry.db"
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            connection.row_factory = sqlite3.Row
            rows = connection.execute("SELECT * FROM pings ORDER BY received_at")
            return [dict(row) for row in rows]
        finally:
            connection.close()  # 3.13 warns of a connection left to the garbage collector

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def server(tmp_path):
    python = os.environ.get("CLIENT_TESTS_SERVER_PYTHON")
    if not python:
        pytest.skip("no server: CLIENT_TESTS_SERVER_PYTHON names the main venv's Python")
    running = _Server(tmp_path / "data", python)
    yield running
    running.stop()


@pytest.fixture
def tls_ca():
    pytest.skip("needs trustme (the main venv's test extra)")


@pytest.fixture
def tls_server():
    pytest.skip("needs trustme (the main venv's test extra)")
