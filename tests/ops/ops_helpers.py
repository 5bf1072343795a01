"""The operator commands run as an operator runs them: a subprocess, and its one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from _services.dump import dump_store

TODAY = datetime.now(timezone.utc).date()
CLOSED = [TODAY - timedelta(days=3), TODAY - timedelta(days=2)]  # sealable whatever the hour


def run(*args: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    environ = {"PATH": "/usr/bin:/bin", **(env or {})}
    if "PYTHONPATH" in os.environ:  # the source tree under test, not an installed copy
        environ["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run([sys.executable, "-m", "sempervirens", *map(str, args)],
                          capture_output=True, text=True, env=environ, timeout=timeout)


def one_line_error(result: subprocess.CompletedProcess, *words: str) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines()
             if line.strip() and not line.startswith(("usage:", " "))]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def store_args(data_dir: Path, urls: tuple[str | None, str | None] = (None, None)) -> list[str]:
    """Flags naming a deployment: its data directory, and its PostgreSQL databases if any."""
    args = ["--data-dir", str(data_dir)]
    if urls[0]:
        args += ["--database", urls[0], "--private-database", urls[1]]
    return args


def urls_of(data_dir: Path, urls: tuple[str | None, str | None] = (None, None)) -> tuple[str, str]:
    return (urls[0] or f"sqlite:///{data_dir / 'telemetry.db'}",
            urls[1] or f"sqlite:///{data_dir / 'private.db'}")


def rows(url: str) -> list[str]:
    """Every row of every table of a store, as sorted text lines."""
    return sorted(dump_store(url).splitlines())


def tree(root: Path) -> dict[str, bytes]:
    """Every file under a directory, by relative path."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
