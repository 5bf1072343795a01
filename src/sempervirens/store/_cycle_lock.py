"""The deployment's one writer of the lake and the releases: the cycle's lock.

A PostgreSQL advisory lock (held across hosts, let go when its holder dies), or a
lock file beside the SQLite telemetry store.  The aggregation cycle holds it for its
whole run; so do the commands that write the lake outside a cycle (a deletion, a
seal), waiting for a running cycle to end: the lake's own lock is a file on the
writing machine, which on object storage does not exclude a writer on another host
(a deletion there read the manifest while a cycle sealed a day holding the deleted
client's pings, and the day was published after the deletion: the UUID stayed).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger("sempervirens.cycle")
LOCK_ID = 7412  # pg advisory lock key of the aggregation cycle (migrations use 7411)
WAIT_POLL = 1.0  # seconds between two tries of a command waiting for a running cycle


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
            acquired = connection.exec_driver_sql(
                f"SELECT pg_try_advisory_lock({LOCK_ID})").scalar()
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


@contextlib.contextmanager
def cycle_lock_waiting(stores, waiting=lambda: None, poll: float = WAIT_POLL):
    """The cycle's lock, for a command that writes the lake outside a cycle: taken as
    soon as no cycle runs; `waiting()` is called once if one does."""
    said = False
    while True:
        with cycle_lock(stores) as lock:
            if lock is not None:
                yield lock
                return
        if not said:
            waiting()
            said = True
        time.sleep(poll)
