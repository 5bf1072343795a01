"""Each job's own spill directory, inside the engine's temp dir.

A job spills into `sempervirens-engine-<random>`, removed when the runner closes, and
holds a lock on a file in it for as long as it runs.  A killed job (kill -9, the
kernel's OOM killer) cannot remove its directory, but the kernel releases its lock;
so each new job first removes the directories whose lock it can take: a spill of
gigabytes is not left behind for good.  A lock, not a process id, tells a live job:
it holds across containers that share the directory but not their process ids.  Jobs
never share a directory, so two at once (the cycle inside `serve` and `sempervirens
release`) cannot remove each other's files.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from pathlib import Path

from .errors import EngineError

PREFIX = "sempervirens-engine-"
LOCK = ".job-lock"
UNLOCKED_GRACE = 3600  # seconds before a directory with no lock to ask is taken as left


class JobTempDir:
    def __init__(self, base: str | None = None) -> None:
        base = base or tempfile.gettempdir()
        try:
            os.makedirs(base, exist_ok=True)
            _remove_orphans(Path(base))
            # Made under a name no sweep takes for a job's, locked, then renamed: a
            # sweep never sees a job's directory before its lock is held.
            starting = tempfile.mkdtemp(prefix="." + PREFIX, dir=base)
            self._lock = open(os.path.join(starting, LOCK), "w")
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: always free
            self.path = os.path.join(base, os.path.basename(starting)[1:])
            os.rename(starting, self.path)
        except OSError as error:
            raise EngineError(f"engine temp dir {base}: cannot make a directory in it "
                              f"({error.strerror or error})") from None

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        self._lock.close()


def check_base(base: str | None) -> str:
    """The directory jobs would spill in, checked without making anything in it:
    EngineError unless it is (or can be made as) a writable directory."""
    base = base or tempfile.gettempdir()
    existing = Path(base).absolute()
    while not existing.exists() and existing != existing.parent:  # made when missing
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise EngineError(f"engine temp dir {base}: {existing} is not a writable directory")
    return base


def _remove_orphans(base: Path) -> None:
    """Remove this user's job directories that no running job holds."""
    for path in (*base.glob(PREFIX + "*"), *base.glob("." + PREFIX + "*")):
        try:
            if path.is_symlink() or not path.is_dir() or path.stat().st_uid != os.getuid():
                continue
            if _orphaned(path):
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue


def _orphaned(path: Path) -> bool:
    if path.name.startswith("."):  # a job starting, or one killed while it started
        return time.time() - path.stat().st_mtime > UNLOCKED_GRACE
    try:
        handle = open(path / LOCK)
    except FileNotFoundError:  # left by a version that made no lock file
        return time.time() - path.stat().st_mtime > UNLOCKED_GRACE
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its job runs
        return True
