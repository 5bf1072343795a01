"""Text files an operator names: the configuration, a metrics file, a notice, the policy,
the privacy page.  Read whole, or refused with the reason in a few words.

Only a regular file is read, and only up to a bound: a device (/dev/zero), a named pipe
with no writer or a file of gigabytes would hang the command or fill its memory before
anything could say what is wrong.  Standard library only (the settings read with it).
"""

from __future__ import annotations

import os
import stat

MAX_BYTES = 1 << 20  # a configuration, a metrics file, a policy or a notice is far less


class Unreadable(ValueError):
    """The file cannot be read as text; str() is the reason, for a one-line message."""


class NotText(Unreadable):
    """The file was read, but it is not UTF-8 text."""


def read(path: str | os.PathLike, *, limit: int = MAX_BYTES) -> str:
    """The file's text (UTF-8, a byte order mark dropped); Unreadable if it cannot be."""
    try:
        # O_NONBLOCK: opening a named pipe does not wait for a writer (it is refused below).
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise Unreadable(error.strerror or str(error)) from None
    found = os.fstat(descriptor)
    mode = found.st_mode
    if stat.S_ISCHR(mode) and found.st_rdev == os.stat(os.devnull).st_rdev:
        os.close(descriptor)
        return ""  # --config /dev/null: the usual way to say "an empty file"
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise Unreadable("a directory, not a file" if stat.S_ISDIR(mode) else
                         "not a regular file (a device, a pipe or a socket)")
    with os.fdopen(descriptor, "rb") as file:
        try:
            data = file.read(limit + 1)
        except OSError as error:
            raise Unreadable(error.strerror or str(error)) from None
    if len(data) > limit:
        raise Unreadable(f"larger than {_amount(limit)}: not a file of this kind")
    try:
        return data.decode("utf-8-sig")  # a byte order mark, if saved with one, is not text
    except UnicodeDecodeError as error:
        raise NotText(f"not UTF-8 text: byte {data[error.start]:#04x} at offset "
                      f"{error.start}") from None


def _amount(size: int) -> str:
    return f"{size >> 20} MiB" if size >= 1 << 20 and not size % (1 << 20) else f"{size} bytes"


__all__ = ["MAX_BYTES", "NotText", "Unreadable", "read"]
