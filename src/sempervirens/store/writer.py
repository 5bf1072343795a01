"""Group commit: many accepted pings become one transaction in each store.

The event loop hands each ping to `Writer.submit` and awaits it.  Whatever is
queued (up to `batch_size`) goes, serialised, to a writer process of this server
process (_writer_process.py), which inserts the batch into both stores at once
and commits both; only then does every waiting request answer 202.  It never
waits for more pings to arrive: under light load a batch is one ping, under
heavy load batches grow by themselves while the previous one commits.  Past
`queue_size` waiting pings, `submit` refuses at once (`Overloaded`) so memory
stays bounded and clients back off.

Faults: a batch that gets no answer within `timeout` seconds (a frozen store)
fails (`WriteFailed`, retryable) and its writer process is killed and replaced.
Batches go only to a writer process that is ready (its imports done): while a
replacement starts, pings wait in the queue for `timeout` at most, then fail
too, so that a client's 503 never waits for a slow start.  A
batch that a store refuses for its contents is split by the writer process so
that only the offending pings fail (`Rejected`, not retryable), and the others
are committed.  An opt-out ping is stored as the event only (its project, type,
version and UTC day) and is not written to the access log.

Why a process: the commits are flushes to disk, and the event loop is busy
parsing and validating; a writer thread in the same process lost most of its
time waiting for the GIL between its steps, which lengthened every batch and
so every request.  The process is Unix-only (the event loop watches its pipes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from datetime import time as day_start
from pathlib import Path

import orjson

try:
    import fcntl
except ImportError:  # not Unix
    fcntl = None

from ..monitoring import COMMIT_SECONDS, QUEUE_DEPTH, STORE_ERRORS, RateLimitedLog
from ..model.ping import (
    COLUMN_BOOL,
    COLUMN_INT32,
    COLUMN_INT64,
    COLUMN_JSON,
    COLUMN_STRING,
    COLUMN_TIMESTAMP,
    stored,
)
from ..model.sources import ipv6_network
from ..protocol import Ping
from ._engines import Stores

log = logging.getLogger("sempervirens.store")
# A store down under load fails a batch every few milliseconds: one line per kind
# of failure every 10 s, with the count of those left out.
_limited = RateLimitedLog(log)


class Overloaded(Exception):
    """The commit queue is full."""


class WriteFailed(Exception):
    """The batch holding this ping could not be committed (retry later)."""


class Rejected(Exception):
    """A store refuses this ping's contents; the rest of its batch was committed (do not retry)."""


@dataclass(slots=True)
class Accepted:
    """A validated ping with what the server adds: where and when it arrived."""
    document_id: str
    project: str
    ping: Ping
    received_at: datetime
    ip: str


# Columns, with their PostgreSQL types, in the order of a row's JSON array: what the
# server adds, then the ping's stored fields as the catalogue lists them (model/ping.py).
_STORED = stored()
_PG_TYPES = {COLUMN_STRING: "text", COLUMN_INT32: "integer", COLUMN_INT64: "bigint",
             COLUMN_BOOL: "boolean", COLUMN_TIMESTAMP: "timestamptz", COLUMN_JSON: "jsonb"}
_PING_COLUMNS = (
    ("document_id", "text"), ("project", "text"), ("ping_type", "text"),
    ("received_at", "timestamptz"), ("day", "date"),
    *((f.column, _PG_TYPES[f.column_type]) for f in _STORED),
)
_LOG_COLUMNS = (
    ("received_at", "timestamptz"), ("ip", "text"), ("project", "text"), ("ping_type", "text"),
    ("client_id", "text"), ("document_id", "text"), ("network", "text"),
)


def _insert_sql(dialect: str, table: str, columns: tuple, conflict: str | None,
                skip_nulls: bool = False) -> str:
    """The INSERT for a whole batch, which travels as one JSON array of row arrays.

    SQLite: the writer process decodes the array and binds it with executemany
    (cheaper than json_extract-ing every column of every row).  PostgreSQL: the
    array is one parameter, unpacked by jsonb_array_elements, so a batch costs one
    statement and one round trip.  JSON columns travel as JSON text.
    """
    names = ", ".join(name for name, _ in columns)
    if dialect == "sqlite":
        sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in columns)})"
    else:
        values = ", ".join(f"(value->>{i})::{kind}" for i, (_, kind) in enumerate(columns))
        sql = f"INSERT INTO {table} ({names}) SELECT {values} FROM jsonb_array_elements(%s::jsonb)"
        if skip_nulls:  # the access log has no line for an opt-out (a null in the array)
            sql += " WHERE jsonb_typeof(value) = 'array'"
    if conflict:
        sql += f" ON CONFLICT ({conflict}) DO NOTHING"
    return sql


class Writer:
    """Group commit through a writer process (see _writer_process.py).

    Everything here runs on the event loop's thread: `submit` queues a ping, and
    at the end of the loop's turn everything queued goes to the writer process
    as one batch, already serialised.  One batch is in flight at a time; what
    arrives meanwhile forms the next one, sent the moment the reply comes back.
    """

    def __init__(self, stores: Stores, *, batch_size: int = 2000, queue_size: int = 10000,
                 timeout: float = 10.0) -> None:
        self._batch_size = batch_size
        self._queue_size = queue_size
        self._timeout = timeout
        self._deadline: asyncio.TimerHandle | None = None
        # For /healthz: when the last batch failed, and its kind; when one last succeeded.
        self.last_failure: tuple[float, str] | None = None
        self.last_success: float | None = None
        self._urls = {"telemetry_url": stores.telemetry.url.render_as_string(hide_password=False),
                      "private_url": stores.private.url.render_as_string(hide_password=False)}
        self._ping_sql = _insert_sql(stores.telemetry.dialect.name, "pings", _PING_COLUMNS, "document_id")
        self._log_sql = _insert_sql(stores.private.dialect.name, "access_log", _LOG_COLUMNS, None,
                                    skip_nulls=True)
        self._waiting = 0
        self._queued: list[tuple[Accepted, asyncio.Future]] = []
        self._in_flight: list[tuple[Accepted, asyncio.Future]] | None = None
        self._flush_scheduled = False
        self._hold: asyncio.TimerHandle | None = None
        self._last_batch = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._process: subprocess.Popen | None = None
        self._out = bytearray()  # bytes not yet taken by the pipe
        self._reply = bytearray()
        self._idle: asyncio.Event | None = None
        self._ready: asyncio.Event | None = None  # set when the writer process's imports are done
        self._starting: asyncio.TimerHandle | None = None  # fails what waits for a slow start
        self._sent_at = 0.0
        self._failed_batches = 0  # since the last commit that worked

    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._idle = asyncio.Event()
        self._idle.set()
        self._ready = asyncio.Event()
        self._spawn()

    async def ready(self, timeout: float) -> bool:
        """Wait (at most `timeout` s) until the writer process can take batches."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)
        return self._ready.is_set()

    async def stop(self) -> None:
        """Commit what is queued, then let the writer process exit."""
        if self._loop is None:
            return
        while self._queued or self._in_flight is not None:
            if self._hold is not None:
                self._hold.cancel()
            self._flush(held=True)
            await self._idle.wait()
        process, self._process = self._process, None
        if process is not None:
            self._close_pipes(process)
            await self._loop.run_in_executor(None, process.wait)
        self._loop = None

    async def submit(self, item: Accepted) -> None:
        if self._waiting >= self._queue_size:
            raise Overloaded()
        future = self._loop.create_future()
        self._waiting += 1
        self._queued.append((item, future))
        if self._in_flight is None:
            if self._hold is not None and len(self._queued) >= self._last_batch // 2:
                self._hold.cancel()
                self._hold = None
            if not self._flush_scheduled and self._hold is None:
                # Not now: at the end of this turn of the loop, so that every
                # ping read in the same turn goes in the same batch.
                self._flush_scheduled = True
                self._loop.call_soon(self._flush)
        await future

    # -- talking to the writer process ------------------------------------

    def _spawn(self) -> None:
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        process = subprocess.Popen(
            [sys.executable, "-m", "sempervirens.store._writer_process"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        for pipe in (process.stdin, process.stdout):
            os.set_blocking(pipe.fileno(), False)
        with contextlib.suppress(OSError, AttributeError):  # Linux: room for a batch or two
            fcntl.fcntl(process.stdin.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
        self._process = process
        self._ready.clear()  # no batch goes to it before it says READY
        self._out.clear()
        self._reply.clear()
        self._loop.add_reader(process.stdout.fileno(), self._on_reply)
        config = orjson.dumps({**self._urls, "ping_sql": self._ping_sql, "log_sql": self._log_sql})
        self._send(_REPLY.pack(len(config)) + config)

    def _flush(self, held: bool = False) -> None:
        self._flush_scheduled = False
        if held:
            self._hold = None
        if self._in_flight is not None or not self._queued or self._hold is not None:
            return
        if not held and len(self._queued) < self._last_batch // 2:
            # The last batch was much bigger: its requests are coming back and
            # being read right now.  Committing the first one or two alone would
            # cost a whole flush and leave the rest to wait for it, and batches
            # would then alternate between tiny and huge.  Wait a little (at
            # most HOLD_SECONDS, and only until half the last batch is here).
            self._hold = self._loop.call_later(HOLD_SECONDS, self._flush, True)
            return
        if not self.running:
            if self._process is not None:
                self._forget_process()
            try:
                self._spawn()
            except OSError as error:
                self._fail(self._queued, error)
                self._queued = []
                return
        if not self._ready.is_set():
            # Starting: what is queued waits for READY, for `timeout` at most.
            if self._starting is None:
                self._idle.clear()
                self._starting = self._loop.call_later(self._timeout, self._too_slow_to_start)
            return
        batch = self._queued[:self._batch_size]
        try:
            batch, log_rows, ping_rows = _serialised(batch)
        except Exception as error:  # noqa: BLE001 - reported to every waiting request
            failure = error
        else:
            failure = None
        self._queued = self._queued[len(batch):]  # what did not fit is the next batch
        self._last_batch = len(batch)
        self._in_flight = batch
        self._idle.clear()
        if failure is not None:
            self._done(failure)
            return
        self._send(_REQUEST.pack(len(log_rows), len(ping_rows)) + log_rows + ping_rows)
        self._sent_at = time.monotonic()
        QUEUE_DEPTH.set(self._waiting)
        self._deadline = self._loop.call_later(self._timeout, self._too_late)

    def _too_slow_to_start(self) -> None:
        """The writer process is not ready after `timeout`: what waits for it fails (retry)."""
        self._starting = None
        queued, self._queued = self._queued, []
        if queued:
            _limited.log(logging.ERROR, "writer start", "the writer process was not ready within "
                         "%.1f s; %d pings refused (retryable)", self._timeout, len(queued))
        self._fail(queued, WriteFailed(f"the writer process did not start within {self._timeout:g} s"))
        self._idle.set()

    def _too_late(self) -> None:
        """No answer in time (a frozen store): fail the batch, replace the writer process."""
        self._deadline = None
        if self._in_flight is None:
            return
        log.error("the store did not commit a batch of %d pings within %.1f s; restarting the writer",
                  len(self._in_flight), self._timeout)
        STORE_ERRORS.labels("timeout").inc()
        if self._process is not None:
            with contextlib.suppress(OSError):
                self._process.kill()  # its transaction was not committed, or a resend is stored once
            self._forget_process()
        error = WriteFailed(f"the store did not answer within {self._timeout:g} s")
        # What queued meanwhile would wait as long again: it fails now, and retries.
        queued, self._queued = self._queued, []
        self._fail(queued, error)
        self._done(error)
        with contextlib.suppress(OSError):
            self._spawn()  # warm (imports done) by the time the next ping comes

    def _send(self, data: bytes) -> None:
        fd = self._process.stdin.fileno()
        if not self._out:
            try:
                written = os.write(fd, data)
            except BlockingIOError:
                written = 0
            except OSError:  # the writer process is gone; _on_reply sees the end of file
                return
            if written == len(data):
                return
            data = data[written:]
            self._loop.add_writer(fd, self._on_writable)
        self._out += data

    def _on_writable(self) -> None:
        fd = self._process.stdin.fileno()
        try:
            written = os.write(fd, self._out)
        except BlockingIOError:
            return
        except OSError:
            written = len(self._out)  # gone: _on_reply sees the end of file
        del self._out[:written]
        if not self._out:
            self._loop.remove_writer(fd)

    def _on_reply(self) -> None:
        try:
            data = os.read(self._process.stdout.fileno(), 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the writer process died
            log.error("the writer process exited (code %s)", self._process.poll())
            self._forget_process()
            if self._in_flight is not None:
                self._done(WriteFailed("the writer process exited"))
            return
        self._reply += data
        while len(self._reply) >= _REPLY.size:
            size = _REPLY.unpack_from(self._reply)[0]
            if len(self._reply) < _REPLY.size + size:
                break
            message = bytes(self._reply[_REPLY.size:_REPLY.size + size])
            del self._reply[:_REPLY.size + size]
            if not message:
                self._done(None)
                continue
            if message == READY:
                self._ready.set()
                if self._starting is not None:
                    self._starting.cancel()
                    self._starting = None
                    self._idle.set()
                if self._queued and self._in_flight is None:
                    self._flush(held=True)
                continue
            reply = orjson.loads(message)
            if "error" in reply:
                self._done(WriteFailed(reply["error"]))
            else:
                self._done(None, {int(i): text for i, text in reply["rejected"].items()})

    def _done(self, error: Exception | None, rejected: dict[int, str] | None = None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        batch, self._in_flight = self._in_flight, None
        if batch is None:
            return
        if error is not None:
            if not isinstance(error, WriteFailed) or "did not answer" not in str(error):
                STORE_ERRORS.labels("commit").inc()  # (a timeout was counted as one)
            first_line = (str(error).strip().splitlines() or [""])[0][:300]
            self._failed_batches += 1
            _limited.log(logging.ERROR, "commit " + first_line.split(":", 1)[0],
                         "commit of %d pings failed: %s", len(batch), first_line)
            # For /healthz, which anyone may read: the kind of failure only (a store's
            # message names its host and port, its user or database); the log has the rest.
            self.last_failure = (time.monotonic(), first_line.split(":", 1)[0][:200])
            self._fail(batch, error)
        else:
            self.last_success = time.monotonic()
            COMMIT_SECONDS.observe(self.last_success - self._sent_at)
            if self._failed_batches:
                log.warning("the stores commit again, after %d failed batches", self._failed_batches)
                self._failed_batches = 0
            self._waiting -= len(batch)
            for index, (_, future) in enumerate(batch):
                if future.done():  # the request was cancelled (client went away)
                    continue
                if rejected and index in rejected:
                    # The error's type only: a store's message may quote the row.
                    log.warning("a store refused one ping of a batch of %d; the others were committed",
                                len(batch))
                    future.set_exception(Rejected(rejected[index].split(":", 1)[0]))
                else:
                    future.set_result(None)
        QUEUE_DEPTH.set(self._waiting)
        self._idle.set()
        if self._queued:
            self._flush()

    def _fail(self, batch: list, error: Exception) -> None:
        self._waiting -= len(batch)
        for _, future in batch:
            if not future.done():
                future.set_exception(error if isinstance(error, WriteFailed) else WriteFailed(str(error)))

    def _forget_process(self) -> None:
        process, self._process = self._process, None
        self._close_pipes(process)
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            process.wait(timeout=0.1)

    def _close_pipes(self, process: subprocess.Popen) -> None:
        self._loop.remove_reader(process.stdout.fileno())
        self._loop.remove_writer(process.stdin.fileno())
        self._out.clear()
        for pipe in (process.stdin, process.stdout):
            with contextlib.suppress(OSError):
                pipe.close()


# The longest a batch is held back for more pings (see _flush).
HOLD_SECONDS = 0.002
# A batch's rows in JSON, at most (a single larger ping still goes alone).  PostgreSQL takes
# a batch as one jsonb parameter, and refuses the whole of one over 256 MiB: 700 pings of
# 400 KB, all valid, failed every ping of their batch, anyone's, with 503.
MAX_BATCH_BYTES = 32 * 1024 * 1024

_REQUEST = struct.Struct("!II")  # as in _writer_process.py
_REPLY = struct.Struct("!I")
READY = b'{"ready":true}'  # the writer process's first message


def _serialised(batch: list) -> tuple[list, bytes, bytes]:
    """(the first pings of `batch` whose rows fit in MAX_BATCH_BYTES, one at least; their
    access-log rows and ping rows as JSON arrays)."""
    logs, pings = [], []
    for item, _ in batch:
        received = _time(item.received_at)  # once for both rows
        logs.append(_log_row(item, received))
        pings.append(_ping_row(item, received))
    log_rows, ping_rows = orjson.dumps(logs), orjson.dumps(pings)
    if len(log_rows) + len(ping_rows) <= MAX_BATCH_BYTES:
        return batch, log_rows, ping_rows  # nearly always: one call per array
    logs, pings, size = [], [], 0
    for item, _ in batch:
        received = _time(item.received_at)
        log, ping = orjson.dumps(_log_row(item, received)), orjson.dumps(_ping_row(item, received))
        size += len(log) + len(ping)
        if logs and size > MAX_BATCH_BYTES:
            break
        logs.append(log)
        pings.append(ping)
    return batch[:len(logs)], b"[" + b",".join(logs) + b"]", b"[" + b",".join(pings) + b"]"


def _ping_row(item: Accepted, received: str) -> tuple:
    p = item.ping
    if p.ping_type == "opt-out":
        # The event only (rule 8): no environment, no library, no period, and the
        # time of day is dropped too; the document_id lets a resend be stored once.
        day = item.received_at.date()
        values = [None] * len(_STORED)
        values[_VERSION] = p.project_version
        return (item.document_id, item.project, p.ping_type,
                _time(datetime.combine(day, day_start(0))), day.isoformat(), *values)
    values = list(_values(p))
    for i, convert in _CONVERT:
        values[i] = convert(values[i])
    return (item.document_id, item.project, p.ping_type, received, received[:10], *values)


def _log_row(item: Accepted, received: str) -> tuple | None:
    if item.ping.ping_type == "opt-out":
        return None  # no address is kept for an opt-out
    return (received, item.ip, item.project, item.ping.ping_type,
            item.ping.client_id, item.document_id, ipv6_network(item.ip))


def _json(value: dict) -> str:
    return orjson.dumps(value).decode()


def _time(value: datetime | None) -> str | None:
    # UTC, in the text form SQLAlchemy reads back from SQLite; PostgreSQL casts it.  The
    # offset is cut off the text (every value here is UTC): replace(tzinfo=None) made a
    # datetime first, and took three times as long (four of these per ping).
    return None if value is None else value.isoformat(" ", "microseconds")[:26]


def _json_or_null(value: dict | None) -> str | None:
    return None if value is None else _json(value)


# A ping's stored values in column order (attribute paths of protocol.Ping), and the
# columns whose values travel as text.
_values = attrgetter(*(f.attribute for f in _STORED))
_CONVERT = tuple((i, _time if f.column_type == COLUMN_TIMESTAMP else _json_or_null)
                 for i, f in enumerate(_STORED) if f.column_type in (COLUMN_TIMESTAMP, COLUMN_JSON))
_VERSION = next(i for i, f in enumerate(_STORED) if f.path == "project_version")
