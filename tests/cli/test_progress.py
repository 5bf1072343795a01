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


def test_a_terminal_gets_a_bar():
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-c", JOB], stderr=terminal, stdout=subprocess.DEVNULL,
                              timeout=60, env={**os.environ, "COLUMNS": "100", "TERM": "xterm"})
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
    assert done.returncode == 0
    assert b"sealing days" in shown and b"3/3" in shown


def test_a_log_gets_nothing():
    log = io.StringIO()
    with Progress("sealing days", total=3, stream=log) as bar:
        bar(3)
    assert log.getvalue() == ""
    done = subprocess.run([sys.executable, "-c", JOB], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""
