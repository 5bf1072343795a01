"""The writer process: commits batches to both stores for one server process.

`Writer` (writer.py) starts it and feeds it over a pipe; it never talks to clients.
Living in its own process, its Python work does not contend with the event loop
for the GIL, and the event loop needs no thread of its own to wait on commits.

Wire format, both ways through the child's stdin and stdout:
  request: 8 bytes (two big-endian u32: length of the access-log rows, length of
           the ping rows), then both JSON arrays of row arrays;
  reply:   4 bytes, a big-endian u32 length, then that many bytes of error message
           (length 0: both stores committed the batch).
The process exits when its stdin reaches end of file, which is also what happens
when the server process dies, however it dies: it never outlives its parent by
more than the batch it is committing.
"""

from __future__ import annotations

import os
import signal
import struct
import sys
import threading

import orjson

_REQUEST = struct.Struct("!II")
_REPLY = struct.Struct("!I")


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            return None  # end of file: the parent closed the pipe or died
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _Store:
    """One store's connection, opened on first use and reopened after a failure."""

    def __init__(self, url: str, sql: str) -> None:
        self._url, self._sql = url, sql
        self._engine = None
        self._connection = None

    def write(self, rows: bytes) -> None:
        if self._connection is None:
            from ._engines import create_store_engine

            if self._engine is None:
                self._engine = create_store_engine(self._url)
            self._connection = self._engine.raw_connection()
        connection = self._connection
        try:
            cursor = connection.cursor()
            try:
                if self._engine.dialect.name == "sqlite":
                    cursor.executemany(self._sql, orjson.loads(rows))
                else:
                    cursor.execute(self._sql, (rows.decode(),))
            finally:
                cursor.close()
            connection.commit()
        except BaseException:
            self._drop()
            raise

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        try:
            connection.rollback()
            connection.close()
        except Exception:  # noqa: BLE001 - the connection is being thrown away
            pass

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._engine is not None:
            self._engine.dispose()


class _Parallel:
    """Runs one store's writes on a thread of its own, so both commits (fsyncs) overlap."""

    def __init__(self, store: _Store) -> None:
        self._store = store
        self._ready = threading.Semaphore(0)
        self._done = threading.Semaphore(0)
        self._rows: bytes | None = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, name="sempervirens-private-writer", daemon=True).start()

    def start(self, rows: bytes) -> None:
        self._rows = rows
        self._ready.release()

    def result(self) -> BaseException | None:
        self._done.acquire()
        return self._error

    def _run(self) -> None:
        while True:
            self._ready.acquire()
            try:
                self._store.write(self._rows)
                self._error = None
            except BaseException as error:  # noqa: BLE001 - handed to the caller
                self._error = error
            self._done.release()


def main() -> int:
    # The parent decides when to stop (end of file, after it has drained its
    # queue); a signal sent to the whole process group must not cut a batch short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    requests, replies = os.dup(0), os.dup(1)
    os.dup2(2, 1)  # a stray print must not corrupt the replies
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)

    header = _read_exactly(requests, _REPLY.size)
    if header is None:
        return 0
    config = orjson.loads(_read_exactly(requests, _REPLY.unpack(header)[0]))
    private = _Store(config["private_url"], config["log_sql"])
    telemetry = _Store(config["telemetry_url"], config["ping_sql"])
    private_side = _Parallel(private)
    try:
        while True:
            header = _read_exactly(requests, _REQUEST.size)
            if header is None:
                return 0
            log_size, ping_size = _REQUEST.unpack(header)
            body = _read_exactly(requests, log_size + ping_size)
            if body is None:
                return 0
            # Both stores at once: the two commits wait on two flushes in parallel.
            # The server answers 202 only when both have committed; a crash between
            # them leaves a ping unacknowledged, and its resend completes the pair
            # (pings are stored once by document_id; every delivery is logged).
            private_side.start(body[:log_size])
            error: BaseException | None = None
            try:
                telemetry.write(body[log_size:])
            except BaseException as failure:  # noqa: BLE001 - reported to the parent
                error = failure
            error = private_side.result() or error
            message = b"" if error is None else (f"{type(error).__name__}: {error}"[:2000] or "error").encode()
            _write_all(replies, _REPLY.pack(len(message)) + message)
    except BrokenPipeError:
        return 0  # the parent is gone
    finally:
        telemetry.close()
        private.close()


if __name__ == "__main__":
    sys.exit(main())
