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
import threading
from pathlib import Path

log = logging.getLogger("sempervirens.cycle")
LOCK_ID = 7412  # pg advisory lock key of the aggregation cycle (migrations use 7411)


@contextlib.contextmanager
def cycle_lock(stores):
    """Yields True when this process may run a cycle now, False if another one is."""
    engine = stores.telemetry
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            acquired = connection.exec_driver_sql(f"SELECT pg_try_advisory_lock({LOCK_ID})").scalar()
            try:
                yield bool(acquired)
            finally:
                if acquired:
                    connection.exec_driver_sql(f"SELECT pg_advisory_unlock({LOCK_ID})")
                    connection.commit()
        return
    path = Path(engine.url.database or ".").with_suffix(".aggregate-lock")
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
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

        while not self._stop.wait(self.interval):
            try:
                with cycle_lock(self.stores) as acquired:
                    if acquired:
                        run_cycle(self.stores, self.settings)
            except (Exception, SystemExit) as error:  # SystemExit: a bad setting must not end the thread
                # The type only: database errors quote their parameters, which may be IPs.
                # The lake's and the engine's are one line about the job, never about a ping.
                log.error("aggregation cycle failed: %s", _shown(error))
                log.debug("aggregation cycle failed", exc_info=True)


def _shown(error: BaseException) -> str:
    from ..aggregate.engine import EngineError
    from ..store.lake import LakeError

    return f"{error}" if isinstance(error, (EngineError, LakeError)) else type(error).__name__


def start_periodic_aggregation(stores, settings: dict) -> PeriodicAggregation:
    """Called from the server's lifespan; `.stop()` it on shutdown."""
    return PeriodicAggregation(stores, settings).start()
