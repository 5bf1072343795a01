"""The aggregation cycle inside `serve`: a thread, so ingestion is never blocked.

Every `aggregate_interval_seconds` (first after one interval, so a server that
only starts and stops does no aggregation) the thread runs one cycle.  Several
workers or hosts may run it: a lock lets one cycle run at a time (a PostgreSQL
advisory lock, or a lock file beside the SQLite store).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger("sempervirens.cycle")
LOCK_ID = 7412  # pg advisory lock key of the aggregation cycle (migrations use 7411)


class CycleLockLost(Exception):
    """The database session holding the cycle's lock ended (a restart): another cycle may
    run now, so this one stops before its next step."""


class CycleLock:
    """The lock a cycle holds; check() before each step that writes the lake or the
    releases, which must have one writer."""

    def __init__(self, connection=None) -> None:
        self._connection = connection  # PostgreSQL: the session holding the advisory lock

    def check(self) -> None:
        if self._connection is None:
            return  # a file lock: held until this process lets it go
        try:
            held = self._connection.exec_driver_sql(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                f"AND pid = pg_backend_pid() AND objid = {LOCK_ID}").scalar()
        except SQLAlchemyError:
            held = 0
        if not held:
            raise CycleLockLost("the database session holding the cycle lock ended; the cycle "
                                "stopped and runs again at the next interval")


@contextlib.contextmanager
def cycle_lock(stores):
    """Yields a CycleLock when this process may run a cycle now, None if another one is."""
    engine = stores.telemetry
    if engine.dialect.name == "postgresql":
        # A session lock, on a connection in autocommit: between statements the session
        # is idle, never "idle in transaction", which idle_in_transaction_session_timeout
        # would end, and the lock with it, while the cycle runs on other connections.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            acquired = connection.exec_driver_sql(f"SELECT pg_try_advisory_lock({LOCK_ID})").scalar()
            try:
                yield CycleLock(connection) if acquired else None
            finally:
                if acquired:
                    try:
                        connection.exec_driver_sql(f"SELECT pg_advisory_unlock({LOCK_ID})")
                    except SQLAlchemyError:  # the session ended, and its lock with it
                        log.warning("the session holding the cycle lock ended during the cycle")
        return
    path = Path(engine.url.database or ".").with_suffix(".aggregate-lock")
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        try:
            yield CycleLock()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
    engine that cannot run, a lost lock), never a ping's data."""
    from ..aggregate.engine import EngineError
    from ..store.lake import LakeError

    return EngineError, LakeError, CycleLockLost


def _shown(error: BaseException) -> str:
    return f"{error}" if isinstance(error, explained_errors()) else type(error).__name__


def start_periodic_aggregation(stores, settings: dict) -> PeriodicAggregation:
    """Called from the server's lifespan; `.stop()` it on shutdown."""
    return PeriodicAggregation(stores, settings).start()
