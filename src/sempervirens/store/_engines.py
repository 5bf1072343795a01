"""Engines for the two stores: SQLite files by default, any SQLAlchemy URL otherwise."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url

CONNECT_TIMEOUT = 10  # seconds for libpq to open a connection


@dataclass(frozen=True)
class Stores:
    telemetry: Engine
    private: Engine

    def dispose(self) -> None:
        self.telemetry.dispose()
        self.private.dispose()


def store_urls(data_dir: str | os.PathLike, database: str | None = None,
               private_database: str | None = None) -> tuple[str, str]:
    """The two URLs: given ones, else SQLite files in the data directory."""
    base = Path(data_dir).resolve()
    if database is None or private_database is None:
        base.mkdir(parents=True, exist_ok=True)
        os.chmod(base, 0o700)  # the private store lives here: not for other users
    return (database or f"sqlite:///{base / 'telemetry.db'}",
            private_database or f"sqlite:///{base / 'private.db'}")


def create_store_engine(url: str, *, statement_timeout: float | None = None) -> Engine:
    """An engine for this URL; with `statement_timeout` (seconds), every statement has a deadline.

    PostgreSQL cancels a statement past its deadline itself (statement_timeout); SQLite
    interrupts it from a progress handler, and waits for a lock at most as long.  Both
    raise OperationalError.  (A store that does not answer at all -- a frozen server --
    is bounded by the caller: see server/_deadline.py and the writer's own deadline.)
    """
    if url.startswith("postgres://"):  # the form many hosting providers hand out
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    options = {}
    if url.startswith("postgresql+psycopg://"):
        # An unreachable or frozen server must not hold a connection attempt forever
        # (libpq waits without limit by default); callers add deadlines of their own.
        # Every session in UTC, whatever the server's, database's or role's TimeZone:
        # the writer sends UTC text without an offset (cast in the session's zone), and
        # dates of received_at are read back in it.  The operator's own options come
        # first: the URL's, else PGOPTIONS (which libpq reads only when a connection
        # gives no options of its own).
        given = make_url(url).query.get("options") or os.environ.get("PGOPTIONS") or ()
        settings = [*([given] if isinstance(given, str) else given), "-c TimeZone=UTC"]
        if statement_timeout is not None:
            milliseconds = max(1, math.ceil(statement_timeout * 1000))
            settings.append(f"-c statement_timeout={milliseconds}")
        options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT,
                                   "options": " ".join(settings)}
    engine = create_engine(url, pool_pre_ping=True, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        if statement_timeout is not None:
            _sqlite_deadlines(engine, statement_timeout)
    return engine


# Virtual-machine steps between two looks at the clock: a few microseconds apart.
_SQLITE_CHECK_STEPS = 10_000


def _sqlite_deadlines(engine: Engine, seconds: float) -> None:
    """Interrupt a statement that runs past `seconds`; wait for a lock no longer either.

    Each connection has one deadline, set when a statement starts and lifted when it
    returns, which its progress handler compares with the clock.
    """

    @event.listens_for(engine, "connect")
    def _watch(dbapi_connection, record) -> None:
        deadline = record.info["deadline"] = [math.inf]
        dbapi_connection.set_progress_handler(lambda: time.monotonic() > deadline[0], _SQLITE_CHECK_STEPS)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={max(1, math.ceil(seconds * 1000))}")
        cursor.close()

    @event.listens_for(engine, "before_cursor_execute")
    def _start(connection, _cursor, _statement, _parameters, _context, _many) -> None:
        connection.info["deadline"][0] = time.monotonic() + seconds

    @event.listens_for(engine, "after_cursor_execute")
    def _finish(connection, _cursor, _statement, _parameters, _context, _many) -> None:
        connection.info["deadline"][0] = math.inf

    @event.listens_for(engine, "handle_error")
    def _failed(context) -> None:
        if context.connection is not None and "deadline" in context.connection.info:
            context.connection.info["deadline"][0] = math.inf


def open_stores(data_dir, database=None, private_database=None, *, migrate: bool = True,
                statement_timeout: float | None = None) -> Stores:
    """Both stores' engines; `statement_timeout`: see create_store_engine."""
    from .migrations import migrate as run_migrations

    telemetry_url, private_url = store_urls(data_dir, database, private_database)
    if migrate:  # the stores may be made here
        for url in (telemetry_url, private_url):
            _make_private_sqlite_file(url)
    stores = Stores(create_store_engine(telemetry_url, statement_timeout=statement_timeout),
                    create_store_engine(private_url, statement_timeout=statement_timeout))
    if migrate:
        run_migrations(stores)
    return stores


def _make_private_sqlite_file(url: str) -> None:
    """A SQLite store's file made for its owner alone (0600) before SQLite makes it under
    the umask (0644: the private store's addresses readable by every local user when it
    lies outside the 0700 data directory); its -wal and -shm files take its mode."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    try:
        os.close(os.open(parsed.database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError:
        pass  # it exists; or SQLite says why it cannot be made, when it opens it


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (pages, aggregation) run beside the writer; FULL makes a
    # commit survive power loss, not just a killed process, before we answer 202.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Deleted rows are overwritten, not left readable in free pages (deletion requests).
    cursor.execute("PRAGMA secure_delete=ON")
    # Aggregation's temporary tables in memory; set per connection, since SQLite
    # refuses to change it inside a transaction.
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()
