"""Engines for the two stores: SQLite files by default, any SQLAlchemy URL otherwise."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event

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


def create_store_engine(url: str) -> Engine:
    if url.startswith("postgres://"):  # the form many hosting providers hand out
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    options = {}
    if url.startswith("postgresql+psycopg://"):
        # An unreachable or frozen server must not hold a connection attempt forever
        # (libpq waits without limit by default); callers add deadlines of their own.
        options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
    engine = create_engine(url, pool_pre_ping=True, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def open_stores(data_dir, database=None, private_database=None, *, migrate: bool = True) -> Stores:
    from .migrations import migrate as run_migrations

    telemetry_url, private_url = store_urls(data_dir, database, private_database)
    stores = Stores(create_store_engine(telemetry_url), create_store_engine(private_url))
    if migrate:
        run_migrations(stores)
    return stores


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
