"""Helpers shared by the client tests (plain functions; the fixtures stay in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from sempervirens.client._environment import CI_VARIABLES

# Variables of the machine running the tests that would change what the client does.
_PROXY_VARIABLES = tuple(
    v
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    for v in (name, name.upper())
)
_CLEARED = ("DO_NOT_TRACK", "XDG_DATA_HOME", *CI_VARIABLES, *_PROXY_VARIABLES)

HOST_PRELUDE = """\
import sys, time
from sempervirens.client import _guard
_guard.report_swallowed_at_exit()
"""


def clean_env(**extra: str) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SEMPERVIRENS_", "PYTEST_")) and k not in _CLEARED
    }
    if "PYTHONPATH" in extra and os.environ.get("PYTHONPATH"):
        # A host's own folder comes first; the client is still found where the suite
        # found it (a source tree on PYTHONPATH, or a venv without sempervirens installed).
        extra["PYTHONPATH"] += os.pathsep + os.environ["PYTHONPATH"]
    env.update(extra)
    return env


def run_host(
    code: str,
    env: dict,
    timeout: float = 30,
    prefix: tuple = (),
    python: tuple = (sys.executable,),
    **kwargs,
) -> subprocess.CompletedProcess:
    """Run a host program (a project using the client) in a fresh interpreter."""
    script = HOST_PRELUDE + textwrap.dedent(code)
    return subprocess.run(  # noqa: PLW1510 - the caller checks
        [*prefix, *python, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def run_command(env: dict, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """Run a user's command (`sempervirens status`, ...) in a fresh interpreter."""
    return subprocess.run(  # noqa: PLW1510 - the caller checks
        [sys.executable, "-m", "sempervirens", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_host(code: str, env: dict, **kwargs) -> subprocess.Popen:
    script = HOST_PRELUDE + textwrap.dedent(code)
    return subprocess.Popen(
        [sys.executable, "-c", script],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


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
