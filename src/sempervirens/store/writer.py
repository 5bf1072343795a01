"""Group commit: one writer thread turns many accepted pings into one transaction.

The event loop hands each ping to `Writer.submit` and awaits it; the thread takes
whatever is queued (up to `batch_size`), writes both stores, commits, and only
then wakes every waiting request, which answers 202.  It never waits for more
pings to arrive: under light load a batch is one ping, under heavy load batches
grow by themselves.  Past `queue_size` waiting pings, `submit` refuses at once
(`Overloaded`) so memory stays bounded and clients back off.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from dataclasses import dataclass
from datetime import datetime

import orjson

from ..protocol import Ping
from ._engines import Stores

log = logging.getLogger("sempervirens.store")


class Overloaded(Exception):
    """The commit queue is full."""


class WriteFailed(Exception):
    """The batch holding this ping could not be committed."""


@dataclass(slots=True)
class Accepted:
    """A validated ping with what the server adds: where and when it arrived."""
    document_id: str
    project: str
    ping: Ping
    received_at: datetime
    ip: str


# Columns, with their PostgreSQL types, in the order of a row's JSON array.
_PING_COLUMNS = (
    ("document_id", "text"), ("project", "text"), ("ping_type", "text"), ("client_id", "text"),
    ("received_at", "timestamptz"), ("day", "date"),
    ("project_version", "text"), ("library_name", "text"), ("library_version", "text"),
    ("period_start", "timestamptz"), ("period_end", "timestamptz"),
    ("os", "text"), ("os_version", "text"), ("arch", "text"), ("python_implementation", "text"),
    ("python_version", "text"), ("cpu_count", "integer"), ("memory_total", "bigint"),
    ("is_ci", "boolean"), ("platform_tag", "text"),
    ("metrics", "jsonb"), ("crash_type", "text"), ("crash_traceback", "text"), ("dropped", "jsonb"),
)
_LOG_COLUMNS = (
    ("received_at", "timestamptz"), ("ip", "text"), ("project", "text"), ("ping_type", "text"),
    ("client_id", "text"), ("document_id", "text"),
)


def _insert_sql(dialect: str, table: str, columns: tuple, conflict: str | None) -> str:
    """One INSERT for a whole batch, passed as a single JSON array of row arrays.

    The database unpacks the rows itself (json_each / jsonb_array_elements), so a
    batch costs one statement and one round trip, and the Python side holds the
    GIL only to serialise the batch, not to bind every value of every row.
    """
    names = ", ".join(name for name, _ in columns)
    if dialect == "sqlite":
        values = ", ".join(
            f"json(json_extract(value, '$[{i}]'))" if kind == "jsonb" else f"json_extract(value, '$[{i}]')"
            for i, (_, kind) in enumerate(columns))
        source = "json_each(?) WHERE true"  # WHERE: SQLite's upsert needs it after a SELECT
    else:
        values = ", ".join(
            f"(value->{i})" if kind == "jsonb" else f"(value->>{i})::{kind}"
            for i, (_, kind) in enumerate(columns))
        source = "jsonb_array_elements(%s::jsonb)"
    sql = f"INSERT INTO {table} ({names}) SELECT {values} FROM {source}"
    if conflict:
        sql += f" ON CONFLICT ({conflict}) DO NOTHING"
    return sql


class Writer:
    def __init__(self, stores: Stores, *, batch_size: int = 2000, queue_size: int = 10000) -> None:
        self._stores = stores
        self._batch_size = batch_size
        self._queue_size = queue_size
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._waiting = 0  # only touched on the event loop's thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ping_sql = _insert_sql(stores.telemetry.dialect.name, "pings", _PING_COLUMNS, "document_id")
        self._log_sql = _insert_sql(stores.private.dialect.name, "access_log", _LOG_COLUMNS, None)

    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="sempervirens-writer", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Commit what is queued, then end the thread."""
        if self._thread is None:
            return
        self._queue.put(None)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        self._thread = None

    async def submit(self, item: Accepted) -> None:
        if self._waiting >= self._queue_size:
            raise Overloaded()
        future = self._loop.create_future()
        self._waiting += 1
        self._queue.put((item, future))
        await future

    # -- the writer thread -------------------------------------------------

    def _run(self) -> None:
        telemetry = self._stores.telemetry.raw_connection()
        private = self._stores.private.raw_connection()
        try:
            stopping = False
            while not stopping:
                batch = [self._queue.get()]
                while len(batch) < self._batch_size:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                if batch[-1] is None:
                    stopping = True
                    batch.pop()
                if batch:
                    error = self._write(telemetry, private, [item for item, _ in batch])
                    self._loop.call_soon_threadsafe(self._wake, [f for _, f in batch], error)
        finally:
            telemetry.close()
            private.close()

    def _write(self, telemetry, private, items: list[Accepted]) -> Exception | None:
        try:
            # The private log first: a ping is never in the telemetry store
            # without the record of where it came from (deletion and anomaly
            # detection rely on it).  A failure after it only leaves a log line
            # for a resend that will come.
            _execute(private, self._log_sql, orjson.dumps([self._log_row(i) for i in items]))
            _execute(telemetry, self._ping_sql, orjson.dumps([self._ping_row(i) for i in items]))
            return None
        except Exception as error:  # noqa: BLE001 - reported to every waiting request
            log.error("commit of %d pings failed: %s", len(items), error)
            return error

    def _wake(self, futures: list[asyncio.Future], error: Exception | None) -> None:
        self._waiting -= len(futures)
        for future in futures:
            if future.done():  # the request was cancelled (client went away)
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(WriteFailed(str(error)))

    def _ping_row(self, item: Accepted) -> tuple:
        p, env = item.ping, item.ping.environment
        return (
            item.document_id, item.project, p.ping_type, p.client_id,
            _time(item.received_at), item.received_at.date().isoformat(),
            p.project_version, p.library_name, p.library_version,
            _time(p.period_start), _time(p.period_end),
            env.os, env.os_version, env.arch, env.python_implementation, env.python_version,
            env.cpu_count, env.memory_total, env.ci, env.platform_tag,
            p.metrics, p.crash_type, p.crash_traceback, p.dropped or None,
        )

    def _log_row(self, item: Accepted) -> tuple:
        return (_time(item.received_at), item.ip, item.project,
                item.ping.ping_type, item.ping.client_id, item.document_id)


def _time(value: datetime | None) -> str | None:
    # UTC, in the text form SQLAlchemy reads back from SQLite; PostgreSQL casts it.
    return None if value is None else value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _execute(connection, sql: str, batch: bytes) -> None:
    cursor = connection.cursor()
    try:
        cursor.execute(sql, (batch.decode(),))
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        cursor.close()
