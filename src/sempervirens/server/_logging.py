"""Server log lines that stay readable under faults.

Each 5xx answer is one line with a request id (also sent to the client in the
X-Request-Id header), so an operator can match a client's report to the log; the
traceback, if any, goes to DEBUG.  Identical lines are rate-limited: a store that is
down under load gives one line per RATE_SECONDS per kind of error, with a count of
those left out, not one per request.  No line holds a client's address.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time

RATE_SECONDS = 10.0


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, interval: float = RATE_SECONDS,
                 clock=time.monotonic) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._seen: dict[str, tuple[float, int]] = {}  # key -> (last logged, left out since)
        self._lock = threading.Lock()

    def log(self, level: int, key: str, message: str, *args) -> bool:
        """Log unless a line with this key was logged less than `interval` ago; True if logged."""
        now = self._clock()
        with self._lock:
            last, skipped = self._seen.get(key, (float("-inf"), 0))
            if now - last < self._interval:
                self._seen[key] = (last, skipped + 1)
                return False
            if len(self._seen) > 1000:  # keys are our own error kinds; bounded all the same
                self._seen.clear()
            self._seen[key] = (now, 0)
        if skipped:
            message += f" ({skipped} more like it in the last {self._interval:g} s not logged)"
        self._logger.log(level, message, *args)
        return True


def new_request_id() -> str:
    return secrets.token_hex(8)
