"""Log lines that stay readable under faults, as text or as JSON.

Identical lines are rate-limited: a store that is down under load gives one line
per RATE_SECONDS per kind of error, with a count of those left out, not one per
request.  With `log_format = json` every line is one JSON object (time, level,
logger, message, request_id), for log collectors.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timezone

RATE_SECONDS = 10.0
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, interval: float = RATE_SECONDS,
                 clock=time.monotonic) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._seen: dict[str, tuple[float, int]] = {}  # key -> (last logged, left out since)
        self._lock = threading.Lock()

    def log(self, level: int, key: str, message: str, *args, **kwargs) -> bool:
        """Log unless a line with this key was logged less than `interval` ago; True if logged.

        kwargs go to Logger.log (e.g. extra={"request_id": ...})."""
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
        self._logger.log(level, message, *args, **kwargs)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a line about a request carries its id (else null)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str, log_format: str = "text") -> None:
    """The root logger's one handler (stderr), in this format; uvicorn's lines go through it too."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
