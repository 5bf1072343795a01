"""Fixtures of the client's tests: an isolated user, host programs, a blackhole port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sempervirens.client import _guard, _telemetry

# Variables of the machine running the tests that would change what the client does.
_CLEARED = ("DO_NOT_TRACK", "CI", "GITHUB_ACTIONS", "GITLAB_CI", "TF_BUILD", "JENKINS_URL",
            "BUILDKITE", "CIRCLECI", "TRAVIS", "BUILD_ID", "XDG_DATA_HOME")


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


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEMPERVIRENS_") and k not in _CLEARED}
    env.update(extra)
    return env


HOST_PRELUDE = """\
import sys, time
from sempervirens.client import _guard
_guard.report_swallowed_at_exit()
"""


def run_host(code: str, env: dict, timeout: float = 30, prefix: tuple = (),
             **kwargs) -> subprocess.CompletedProcess:
    """Run a host program (a project using the client) in a fresh interpreter."""
    script = HOST_PRELUDE + textwrap.dedent(code)
    return subprocess.run([*prefix, sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=timeout, **kwargs)


def start_host(code: str, env: dict, **kwargs) -> subprocess.Popen:
    script = HOST_PRELUDE + textwrap.dedent(code)
    return subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def assert_clean(result: subprocess.CompletedProcess) -> None:
    """The host ran as if the client were not there: exit 0, nothing swallowed, no traceback."""
    assert result.returncode == 0, result.stderr
    assert "SEMPERVIRENS SWALLOWED" not in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def spooled(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "spool").glob("*.ping"))


def read_spool(data_dir: Path) -> list[tuple[dict, bytes]]:
    """(header, body) of every pending ping, oldest first."""
    from sempervirens.client._spool import Spool

    return [Spool.parse(path.read_bytes()) for path in spooled(data_dir)]


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
