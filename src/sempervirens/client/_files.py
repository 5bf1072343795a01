"""Small file primitives: atomic writes, tolerant reads, an inter-process lock.

Several processes of one user (a notebook, a CLI, multiprocessing workers) share
the data directory, and any of them may be killed at any instant: a file is
either the old one or the new one, never half written.
"""

from __future__ import annotations

import json
import os
import time

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


def read_json(path: str, default):
    """The JSON object in `path`; `default` when the file is missing.

    A file that exists but cannot be read or parsed raises OSError or ValueError:
    the caller decides what a corrupted file means (for consent: refuse).
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return default
    value = json.loads(data)
    if not isinstance(value, dict):
        # ValueError, not TypeError: callers treat every bad file alike.
        raise ValueError(f"{path}: not a JSON object")  # noqa: TRY004
    return value


def read_fd(fd: int, limit: int = 16 * 1024 * 1024) -> bytes:
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


def write_json(path: str, value: dict) -> None:
    write_atomic(path, json.dumps(value, indent=1, sort_keys=True).encode())


class FileLock:
    """An exclusive advisory lock on `path` (created if needed), with a deadline.

    flock locks die with their process, so a killed host never leaves one behind.
    """

    def __init__(self, path: str, timeout: float = 1.0) -> None:
        self.path, self.timeout, self.fd = path, timeout, None

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is None:
            return self
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(self.fd)
                    self.fd = None
                    raise TimeoutError(f"{self.path} is locked by another process") from None
                time.sleep(0.005)

    def __exit__(self, *exc):
        if self.fd is not None:
            if fcntl is not None:
                # Unlock explicitly: a forked child holding a copy of the fd would
                # otherwise keep the lock alive.
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
        return False


def try_lock_fd(fd: int) -> bool:
    """Lock an open file without waiting; True when this process now owns it."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def unlock_fd(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
