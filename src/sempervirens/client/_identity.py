"""The installation id: one RFC 4122 version 4 UUID per user, shared by every project.

Created on first use from the OS random source, kept in `client_id` (mode 0600) in
the data directory.  A missing or corrupted file gives a fresh id; a file that
cannot be read or written gives None (the caller then sends nothing).
"""

from __future__ import annotations

import os

from . import _files

FILENAME = "client_id"


def new_uuid4() -> str:
    """A version 4 UUID from os.urandom, formatted as RFC 4122 says (no `uuid` import)."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # variant RFC 4122
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def is_uuid4(value: str) -> bool:
    if len(value) != 36 or value[14] != "4" or value[19] not in "89ab":
        return False
    parts = value.split("-")
    if [len(p) for p in parts] != [8, 4, 4, 4, 12]:
        return False
    return all(c in "0123456789abcdef" for c in value.replace("-", ""))


def read(data_dir: str) -> str | None:
    """The stored id if there is a valid one; never creates."""
    try:
        value = _read(os.path.join(data_dir, FILENAME))
    except (OSError, ValueError):
        return None
    return value if is_uuid4(value) else None


def _read(path: str) -> str:
    """The file's text; OSError if it is no regular file, ValueError if it holds no id."""
    # An id is 37 bytes: a larger file (1 GB of anything) is corrupted, not read.
    return _files.read_regular(path, limit=100).decode("ascii").strip().lower()


def get_or_create(data_dir: str) -> str | None:
    """The installation id, created if missing or corrupted; None if the file is unusable."""
    path = os.path.join(data_dir, FILENAME)
    try:
        value = _read(path)
        if is_uuid4(value):
            return value
    except FileNotFoundError:
        pass
    except ValueError:
        pass  # corrupted or too large: a fresh id replaces it
    except OSError:
        return None  # a directory, a FIFO, no permission: not ours to replace
    return _create(path)


def _create(path: str) -> str | None:
    value = new_uuid4()
    tmp = f"{path}.{os.getpid()}.{value[:8]}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(value + "\n")
        try:
            # link() fails if another process created the file meanwhile: theirs wins,
            # so every process of the user ends up with the same id.
            os.link(tmp, path)
        except FileExistsError:
            existing = read(os.path.dirname(path))
            if existing:
                return existing
            os.replace(tmp, path)  # the existing file is corrupted: replace it
        except (AttributeError, NotImplementedError, PermissionError):
            os.replace(tmp, path)  # no hard links here (some Windows/FUSE file systems)
        return value
    except OSError:
        return None
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def replace(data_dir: str) -> str | None:
    """A new id (for `sempervirens forget`): the old one is never used again."""
    path = os.path.join(data_dir, FILENAME)
    value = new_uuid4()
    try:
        _files.write_atomic(path, (value + "\n").encode("ascii"))
    except OSError:
        return None
    return value
