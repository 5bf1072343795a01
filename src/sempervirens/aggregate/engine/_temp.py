"""Each job's own spill directory, inside the engine's temp dir.

A job spills into `sempervirens-engine-<pid>-<random>`, removed when the runner
closes.  A killed job (kill -9, the kernel's OOM killer) cannot remove its own, so
each new job first removes those of processes that no longer exist: a spill of
gigabytes is not left behind for good.  Jobs never share a directory, so two at once
(the cycle inside `serve` and `sempervirens release`) cannot remove each other's files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .errors import EngineError

PREFIX = "sempervirens-engine-"


class JobTempDir:
    def __init__(self, base: str | None = None) -> None:
        base = base or tempfile.gettempdir()
        try:
            os.makedirs(base, exist_ok=True)
            _remove_orphans(Path(base))
            self.path = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=base)
        except OSError as error:
            raise EngineError(f"engine temp dir {base}: cannot make a directory in it "
                              f"({error.strerror or error})") from None

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


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
    """Remove the job directories, of this user, whose process has ended."""
    for path in base.glob(PREFIX + "*-*"):
        pid = path.name[len(PREFIX):].partition("-")[0]
        try:
            if not pid.isdigit() or path.stat().st_uid != os.getuid() or _alive(int(pid)):
                continue
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True
