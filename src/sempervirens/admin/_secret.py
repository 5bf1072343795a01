"""The server's secret key for keyed hashes (tombstones).

From the `secret_key` setting when given (needed when several hosts share one
PostgreSQL: they must agree on it), else from `secret.key` in the data directory,
created on first use readable by its owner only.  It is kept out of the databases
so that a copy of a database alone cannot test a UUID against the tombstones.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

FILE_NAME = "secret.key"


def load_key(config: dict, *, create: bool = True) -> bytes | None:
    """The key; None when there is none yet and `create` is False."""
    if config.get("secret_key"):
        key = config["secret_key"].encode()
        if len(key) < 32:
            raise SystemExit("sempervirens: secret_key must be at least 32 characters")
        return key
    return _key_file(Path(config["data_dir"]), create)


def _key_file(data_dir: Path, create: bool) -> bytes | None:
    path = data_dir / FILE_NAME
    if os.path.lexists(path) or not create:
        return _read(path) if os.path.lexists(path) else None
    # Written whole to a temporary name, then linked into place: several workers may
    # start at once, and none must ever read a half-written key.  The first link wins.
    temporary = data_dir / f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as out:
                out.write(secrets.token_hex(32) + "\n")
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
        finally:
            temporary.unlink()
    except OSError as error:  # a data directory read-only, or not ours: one line, not a lake's
        raise SystemExit(f"sempervirens: the secret key {path} cannot be made: "
                         f"{error.strerror or error}") from None
    return _read(path)


def _read(path: Path) -> bytes:
    """The key in the file; SystemExit, one line, for a file that holds none (whatever the
    command: a deletion must not go on, nor say a later step failed)."""
    from .. import textfile

    try:
        key = textfile.read(path, limit=4096).strip().encode()
    except textfile.Unreadable as error:
        raise SystemExit(f"sempervirens: the secret key {path} cannot be read: {error}") from None
    if len(key) < 32:
        raise SystemExit(f"sempervirens: {path} holds no usable key; remove it to make a new one")
    return key
