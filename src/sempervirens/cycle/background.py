"""The aggregation cycle inside `serve`: a thread, so ingestion is never blocked.

Every `aggregate_interval_seconds` (first after one interval, so a server that
only starts and stops does no aggregation) the thread runs one cycle.  Several
workers or hosts may run it: a lock lets one cycle run at a time (a PostgreSQL
advisory lock, or a lock file beside the SQLite store: store/_cycle_lock.py).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import datetime, timezone

from ..store._cycle_lock import LOCK_ID, CycleLock, CycleLockLost, cycle_lock

log = logging.getLogger("sempervirens.cycle")
__all__ = ["LOCK_ID", "CycleLock", "CycleLockLost", "cycle_lock", "PeriodicAggregation",
           "explained_errors", "start_periodic_aggregation"]


class PeriodicAggregation:
    def __init__(self, stores, settings: dict) -> None:
        self.stores = stores
        self.interval = settings["aggregate_interval_seconds"]
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> PeriodicAggregation:
        if self.interval > 0:
            self._thread = threading.Thread(target=self._run, name="sempervirens-aggregate",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)  # a cycle in SQL ends with the process (daemon)

    def _run(self) -> None:
        from .run import run_cycle

        while True:
            # Cycles start on a fixed grid of the wall clock, and each one's `now` (the
            # released_at of what it releases, published) is its grid time: never the
            # end of the cycle before plus the interval, which carries the earlier
            # cycles' durations, and with them the data (a deletion request alone adds
            # its settle time).  A cycle that overruns waits for the next grid time.
            due = (math.floor(time.time() / self.interval) + 1) * self.interval
            if self._stop.wait(max(0.0, due - time.time())):
                return
            now = datetime.fromtimestamp(due, timezone.utc)
            try:
                with cycle_lock(self.stores) as lock:
                    if lock is not None:
                        run_cycle(self.stores, self.settings, lock=lock, now=now)
            except (Exception, SystemExit) as error:  # SystemExit: a bad setting must not end the thread
                # The type only: database errors quote their parameters, which may be IPs.
                # The lake's and the engine's are one line about the job, never about a ping.
                log.error("aggregation cycle failed: %s", _shown(error))
                log.debug("aggregation cycle failed", exc_info=True)


def explained_errors() -> tuple[type[Exception], ...]:
    """The errors whose message is the reason, in one line of ours (a lake to repair, an
    engine that cannot run, a release refused, a lost lock), never a ping's data."""
    from ..aggregate.engine import EngineError
    from ..release import ReleaseError
    from ..store.lake import LakeError

    return EngineError, LakeError, ReleaseError, CycleLockLost


def _shown(error: BaseException) -> str:
    return f"{error}" if isinstance(error, explained_errors()) else type(error).__name__


def start_periodic_aggregation(stores, settings: dict) -> PeriodicAggregation:
    """Called from the server's lifespan; `.stop()` it on shutdown."""
    return PeriodicAggregation(stores, settings).start()
