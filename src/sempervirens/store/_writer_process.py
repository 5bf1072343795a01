"""The writer process: commits batches to both stores for one server process.

`Writer` (writer.py) starts it and feeds it over a pipe; it never talks to clients.
Living in its own process, its Python work does not contend with the event loop
for the GIL, and the event loop needs no thread of its own to wait on commits.

Wire format, both ways through the child's stdin and stdout:
  request: 8 bytes (two big-endian u32: length of the access-log rows, length of
           the ping rows), then both JSON arrays of row arrays;
  ready:   once, before any reply: {"ready": true} framed as a reply, when the
           imports are done and the engines made (the parent's deadlines start then);
  reply:   4 bytes, a big-endian u32 length, then that many bytes: nothing when both
           stores committed the batch, else a JSON object: {"error": message} when
           nothing was committed (the store is unreachable: retry), or
           {"rejected": {index: message}} when every ping but those was committed
           (the stores refuse those pings' contents: never retry them).
  The access-log array holds null for a ping that is not logged (an opt-out).
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
READY = b'{"ready":true}'


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
    """One store's connection, opened on first use and reopened after a failure.

    A batch is inserted first and committed only once both stores hold it, so a
    batch that one store refuses leaves nothing behind in the other.
    """

    def __init__(self, url: str, sql: str) -> None:
        self._url, self._sql = url, sql
        self._engine = None
        self._connection = None

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name if self._engine is not None else ""

    def prepare(self) -> None:
        """Make the engine, which imports the driver (no connection yet)."""
        if self._engine is None:
            from ._engines import create_store_engine

            self._engine = create_store_engine(self._url)

    def insert(self, rows: list | bytes) -> None:
        """Insert a batch (JSON array bytes, or the decoded list) without committing it."""
        if self._connection is None:
            self.prepare()
            self._connection = self._engine.raw_connection()
        try:
            cursor = self._connection.cursor()
            try:
                if self._engine.dialect.name == "sqlite":
                    decoded = orjson.loads(rows) if isinstance(rows, bytes) else rows
                    present = [row for row in decoded if row is not None]  # opt-outs have no log row
                    if present:
                        cursor.executemany(self._sql, present)
                else:
                    text = rows.decode() if isinstance(rows, bytes) else orjson.dumps(rows).decode()
                    cursor.execute(self._sql, (text,))
            finally:
                cursor.close()
        except BaseException:
            self._drop()
            raise

    def commit(self) -> None:
        try:
            self._connection.commit()
        except BaseException:
            self._drop()
            raise

    def rollback(self) -> None:
        if self._connection is not None:
            try:
                self._connection.rollback()
            except BaseException:
                self._drop()
                raise

    def retryable(self, error: BaseException) -> bool:
        """Whether `error` says the store is unreachable or busy, rather than refusing these rows."""
        names = {cls.__name__ for cls in type(error).__mro__}
        if self.dialect == "sqlite":
            return "OperationalError" in names or isinstance(error, OSError)
        return bool(names & {"OperationalError", "InterfaceError", "InternalError"}) or isinstance(error, OSError)

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        # Invalidated, not returned: returning a connection the server has closed
        # (PostgreSQL restarted) makes the pool roll it back, and log the failure of
        # that rollback with a traceback.  The next batch opens a new connection.
        try:
            connection.invalidate()
        except Exception:  # noqa: BLE001 - the connection is being thrown away
            pass

    def close(self) -> None:
        self._drop()
        if self._engine is not None:
            self._engine.dispose()


class _Parallel:
    """Runs one store's steps on a thread of its own, so both stores' work (fsyncs) overlaps."""

    def __init__(self, store: _Store) -> None:
        self.store = store
        self._ready = threading.Semaphore(0)
        self._done = threading.Semaphore(0)
        self._step = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, name="sempervirens-private-writer", daemon=True).start()

    def start(self, step, *args) -> None:
        self._step = (step, args)
        self._ready.release()

    def result(self) -> BaseException | None:
        self._done.acquire()
        return self._error

    def _run(self) -> None:
        while True:
            self._ready.acquire()
            step, args = self._step
            try:
                step(*args)
                self._error = None
            except BaseException as error:  # noqa: BLE001 - handed to the caller
                self._error = error
            self._done.release()


def _both(telemetry: _Store, private: _Parallel, ping_rows, log_rows) -> BaseException | None:
    """Insert into both stores at once; commit both only if both inserts worked."""
    private.start(private.store.insert, log_rows)
    error: BaseException | None = None
    try:
        telemetry.insert(ping_rows)
    except BaseException as failure:  # noqa: BLE001 - reported to the parent
        error = failure
    error = private.result() or error
    if error is not None:
        _quietly(telemetry.rollback)
        _quietly(private.store.rollback)
        return error
    # Both commits wait on two flushes in parallel.  The server answers 202 only
    # when both have committed; a crash between them leaves a ping unacknowledged,
    # and its resend completes the pair (pings are stored once by document_id;
    # every delivery is logged).
    private.start(private.store.commit)
    try:
        telemetry.commit()
    except BaseException as failure:  # noqa: BLE001
        error = failure
    return private.result() or error


def _quietly(step) -> None:
    try:
        step()
    except Exception:  # noqa: BLE001 - the connection is dropped and reopened
        pass


def _describe(error: BaseException) -> str:
    return (f"{type(error).__name__}: {error}"[:2000]) or "error"


def _refused(store: _Store, rows: list, indices: list[int], out: dict[int, str]) -> None:
    """Find which rows this store refuses, by halving: inserted, then rolled back."""
    subset = [rows[i] for i in indices]
    if all(row is None for row in subset):
        return
    try:
        store.insert(subset)
    except BaseException as error:  # noqa: BLE001
        if store.retryable(error):
            raise
        if len(indices) == 1:
            out[indices[0]] = _describe(error)
            return
        middle = len(indices) // 2
        _refused(store, rows, indices[:middle], out)
        _refused(store, rows, indices[middle:], out)
        return
    store.rollback()


def commit_batch(telemetry: _Store, private: _Parallel, log_json: bytes, ping_json: bytes) -> bytes:
    """The reply for one batch: b"" (all committed) or JSON {"error"} / {"rejected"}.

    One bad ping must not fail the others: when a store refuses the batch for its
    contents (not because it is unreachable), the refused pings are found by halving
    and the rest committed; only those are answered 400.
    """
    error = _both(telemetry, private, ping_json, log_json)
    if error is None:
        return b""
    if telemetry.retryable(error) or private.store.retryable(error):
        return orjson.dumps({"error": _describe(error)})
    pings, logs = orjson.loads(ping_json), orjson.loads(log_json)
    rejected: dict[int, str] = {}
    try:
        everything = list(range(len(pings)))
        _refused(telemetry, pings, everything, rejected)
        _refused(private.store, logs, everything, rejected)
        keep = [i for i in everything if i not in rejected]
        if keep:
            error = _both(telemetry, private, [pings[i] for i in keep], [logs[i] for i in keep])
            if error is not None:
                return orjson.dumps({"error": _describe(error)})
    except BaseException as failure:  # noqa: BLE001 - unreachable meanwhile
        return orjson.dumps({"error": _describe(failure)})
    return orjson.dumps({"rejected": {str(i): message for i, message in rejected.items()}})


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
        private.prepare()
        telemetry.prepare()
        _write_all(replies, _REPLY.pack(len(READY)) + READY)
        while True:
            header = _read_exactly(requests, _REQUEST.size)
            if header is None:
                return 0
            log_size, ping_size = _REQUEST.unpack(header)
            body = _read_exactly(requests, log_size + ping_size)
            if body is None:
                return 0
            message = commit_batch(telemetry, private_side, body[:log_size], body[log_size:])
            _write_all(replies, _REPLY.pack(len(message)) + message)
    except BrokenPipeError:
        return 0  # the parent is gone
    finally:
        telemetry.close()
        private.close()


if __name__ == "__main__":
    sys.exit(main())
