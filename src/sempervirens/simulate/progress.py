"""A one-line progress bar on stderr (redrawn in place on a terminal, milestones otherwise)."""

from __future__ import annotations

import sys
import threading
import time


class Progress:
    def __init__(self, label: str, total: int, *, enabled: bool = True, stream=None) -> None:
        self.label, self.total, self.done = label, max(total, 1), 0
        self._stream = stream or sys.stderr
        self._enabled = enabled
        self._tty = getattr(self._stream, "isatty", lambda: False)()
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._shown = -1
        self._draw()

    def __call__(self, n: int = 1) -> None:
        with self._lock:
            self.done = min(self.total, self.done + n)
            self._draw()

    def close(self) -> None:
        with self._lock:
            if self._tty or self._shown < 100:
                self.done = self.total
                self._draw(final=True)

    def _draw(self, final: bool = False) -> None:
        if not self._enabled:
            return
        percent = 100 * self.done // self.total
        if not self._tty and not final and percent // 25 == self._shown // 25:
            return  # a log file gets 0/25/50/75/100 %, not a line per step
        self._shown = percent
        filled = 30 * self.done // self.total
        bar = "#" * filled + "-" * (30 - filled)
        line = (f"{self.label:<24} [{bar}] {self.done}/{self.total} "
                f"{time.monotonic() - self._start:5.1f}s")
        end = "\n" if final or not self._tty else ""
        self._stream.write(("\r" if self._tty else "") + line + end)
        self._stream.flush()
