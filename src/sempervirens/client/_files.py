"""Small file primitives: atomic writes, tolerant reads, an inter-process lock.

Several processes of one user (a notebook, a CLI, multiprocessing workers, the
ranks of a job on many nodes sharing one home over NFS) share the data
directory, and any of them may be killed at any instant: a file is either the
old one or the new one, never half written (rename is atomic on NFS too).

Locks are POSIX record locks (`fcntl.lockf`), which NFS carries to the server
(NLM, or NFSv4's own locks); BSD `flock` locks stay on the client of some NFS
set-ups.  POSIX locks belong to a process, not to a descriptor: closing any
descriptor of a file drops every lock this process holds on it, and two threads
of one process never exclude each other.  So each path is also guarded by a
lock inside the process, taken first, and only its holder opens the file.
"""

from __future__ import annotations

import json
import os
import stat
import time
from _thread import allocate_lock

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; writes stay atomic, updates best effort
    fcntl = None


def write_atomic(path: str, data: bytes, mode: int = 0o600) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`."""
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # Windows has no FIFOs to block on, nor the flag

# A state file (consent, drop counts, policies, projects) holds a few KiB: one past
# this is not one we wrote, and reading it whole would cost the host memory and time.
MAX_STATE_BYTES = 1024 * 1024


def read_regular(path: str, limit: int = MAX_STATE_BYTES) -> bytes:
    """The bytes of the regular file at `path`, which holds at most `limit` of them.

    Never blocks and never opens what is not a file: a FIFO, a socket or a device
    where a file is expected (an ordinary open of a FIFO waits for a writer
    forever) raises OSError, as does a missing file (FileNotFoundError); a file
    larger than `limit` raises ValueError.  A file replaced by a FIFO between the
    check and the open is opened without blocking and refused by its descriptor.
    """
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OSError(f"{path}: not a regular file")
    fd = os.open(path, os.O_RDONLY | _NONBLOCK | getattr(os, "O_BINARY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path}: not a regular file")
        data = read_fd(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ValueError(f"{path}: larger than {limit} bytes")
    return data


def read_json(path: str, default):
    """The JSON object in `path`; `default` when the file is missing.

    A file that exists but cannot be read or parsed (or is no regular file, or is
    too large: `read_regular`) raises OSError or ValueError: the caller decides
    what a corrupted file means (for consent: refuse).
    """
    try:
        data = read_regular(path)
    except FileNotFoundError:
        return default
    try:
        value = json.loads(data)
    except RecursionError:
        if _stack_nearly_full():
            raise  # the caller's stack is to blame, not the file: it is not corrupted
        raise ValueError(f"{path}: nested too deeply") from None  # "[[[[...": corrupted
    if not isinstance(value, dict):
        # ValueError, not TypeError: callers treat every bad file alike.
        raise ValueError(f"{path}: not a JSON object")  # noqa: TRY004
    return value


# A spooled ping: its header and a body the protocol bounds to 1 MiB; well past both.
MAX_PING_FILE = 16 * 1024 * 1024


def read_fd(fd: int, limit: int = MAX_PING_FILE) -> bytes:
    """All the bytes of an open file (at most `limit`)."""
    chunks = []
    size = 0
    while size < limit:
        chunk = os.read(fd, min(1024 * 1024, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _stack_nearly_full(margin: int = 100) -> bool:
    """Whether the calling thread's Python stack is within `margin` frames of its limit
    (a host that first records deep in its own recursion)."""
    import sys

    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    return depth + margin > sys.getrecursionlimit()


def write_json(path: str, value: dict) -> None:
    write_atomic(path, json.dumps(value, indent=1, sort_keys=True).encode())


_local_guard = allocate_lock()
_local: dict = {}  # path -> the lock of this process's threads on it


def _local_lock(path: str):
    with _local_guard:
        lock = _local.get(path)
        if lock is None:
            lock = _local[path] = allocate_lock()
        return lock


def _posix_lock(fd: int) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except (BlockingIOError, PermissionError):  # EAGAIN or EACCES: another process holds it
        return False


def _posix_unlock(fd: int) -> None:
    if fcntl is not None:
        try:
            fcntl.lockf(fd, fcntl.LOCK_UN)
        except OSError:
            pass


class FileLock:
    """An exclusive lock on `path` (created if needed) between processes and threads,
    with a deadline.  A killed process's POSIX locks go with it."""

    def __init__(self, path: str, timeout: float = 1.0) -> None:
        self.path, self.timeout, self.fd = path, timeout, None
        self._local = _local_lock(path)

    def __enter__(self):
        deadline = time.monotonic() + self.timeout
        if not self._local.acquire(True, max(0.0, self.timeout)):
            raise TimeoutError(f"{self.path} is locked by another thread")
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _NONBLOCK, 0o600)
            while not _posix_lock(self.fd):
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"{self.path} is locked by another process")
                time.sleep(0.005)
            return self
        except BaseException:
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None
            self._local.release()
            raise

    def __exit__(self, *exc):
        if self.fd is not None:
            _posix_unlock(self.fd)
            os.close(self.fd)
            self.fd = None
            self._local.release()
        return False


def open_locked(path: str) -> int:
    """Open `path` (read-write: an exclusive POSIX lock needs it) and lock it without
    waiting: a descriptor, or raise.

    BlockingIOError: another thread or process holds it; other OSError: it cannot
    be opened or locked (a directory, no permission).
    """
    flags = os.O_RDWR
    local = _local_lock(path)
    if not local.acquire(False):
        raise BlockingIOError(f"{path} is locked by another thread")
    try:
        fd = os.open(path, flags | _NONBLOCK)
    except BaseException:
        local.release()
        raise
    try:
        locked = _posix_lock(fd)
    except OSError:
        os.close(fd)
        local.release()
        raise
    if not locked:
        os.close(fd)  # we hold the process's only descriptor: closing drops nothing else
        local.release()
        raise BlockingIOError(f"{path} is locked by another process")
    return fd


def close_locked(path: str, fd: int) -> None:
    _posix_unlock(fd)
    os.close(fd)
    _local_lock(path).release()
