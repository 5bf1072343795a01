"""Fixtures of the client's tests: an isolated user, host programs, a blackhole port."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

# client_helpers.py and _fault_server.py are importable whatever pytest's import mode.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from client_helpers import _CLEARED

from sempervirens.client import _guard, _telemetry


@pytest.fixture(autouse=True)
def reraise_swallowed():
    """The guard keeps users' programs alive; here, what it swallowed fails the test."""
    _guard.keep_swallowed(True)
    yield
    errors = _guard.take_swallowed()
    _guard.keep_swallowed(False)
    if errors:
        raise errors[0]


@pytest.fixture(autouse=True)
def forget_instances():
    """No Telemetry of a test survives it (nor reports at the end of the test session)."""
    yield
    _telemetry._reset()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An isolated user: SEMPERVIRENS_HOME in a fresh directory, nothing refusing."""
    data_dir = tmp_path / "sempervirens-home"
    for name in list(os.environ):
        if name.startswith("SEMPERVIRENS_") or name in _CLEARED:
            monkeypatch.delenv(name)
    monkeypatch.setenv("SEMPERVIRENS_HOME", str(data_dir))
    return data_dir


@pytest.fixture
def blackhole():
    """A loopback port that accepts TCP connections and never answers a byte."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # the kernel completes handshakes; nobody ever reads
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


@pytest.fixture
def closed_port() -> str:
    """A loopback URL where nothing listens: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
