"""Progress: a bar on a terminal (a real pseudo-terminal here), nothing in a log."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys

from sempervirens.progress import Progress

JOB = """
from sempervirens.progress import Progress
with Progress("sealing days", total=3) as bar:
    for _ in range(3):
        bar()
"""


def _on_a_terminal(*command: str) -> bytes:
    """What `command` shows on its standard error, a real pseudo-terminal."""
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(command, stderr=terminal, stdout=subprocess.DEVNULL, timeout=120,
                              env={**os.environ, "COLUMNS": "100", "TERM": "xterm"})
        os.close(terminal)
        terminal = None
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal's other end is closed: all is read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if terminal is not None:
            os.close(terminal)
        os.close(controller)
    assert done.returncode == 0, shown
    return shown


def test_a_terminal_gets_a_bar():
    shown = _on_a_terminal(sys.executable, "-c", JOB)
    assert b"sealing days" in shown and b"3/3" in shown


def test_migrations_and_backups_show_their_progress(tmp_path):
    data = str(tmp_path / "data")
    shown = _on_a_terminal(sys.executable, "-m", "sempervirens", "init", "--data-dir", data)
    assert b"migrating the telemetry store" in shown and b"migrating the private store" in shown
    shown = _on_a_terminal(sys.executable, "-m", "sempervirens", "backup", str(tmp_path / "b"),
                           "--data-dir", data)
    assert b"backup: stores, lake, datasets" in shown and b"4/4" in shown


def test_a_log_gets_nothing():
    log = io.StringIO()
    with Progress("sealing days", total=3, stream=log) as bar:
        bar(3)
    assert log.getvalue() == ""
    done = subprocess.run([sys.executable, "-c", JOB], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""
