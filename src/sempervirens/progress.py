"""Progress of a long job (simulate, the cycle, migrations, backups): a bar when stderr
is a terminal, nothing at all otherwise, so that logs stay quiet.

    bar = Progress("sealing days", total=len(days))
    for day in days:
        ...
        bar()        # one step done (thread-safe); bar(5): five steps
    bar.close()      # or: with Progress(...) as bar:

The bar is drawn by rich (in the `server` extra); without it, or off a terminal,
Progress does nothing.  Imports nothing of Sempervirens: any layer may use it.
"""

from __future__ import annotations

import sys
from typing import IO


class Progress:
    def __init__(self, label: str, total: int | None = None, *, enabled: bool = True,
                 stream: IO[str] | None = None) -> None:
        self._bar = None
        stream = sys.stderr if stream is None else stream
        if enabled and _is_terminal(stream):
            self._bar, self._task = _rich_bar(label, total, stream)

    def __call__(self, steps: int = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, steps)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _rich_bar(label: str, total: int | None, stream):
    try:
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress,
                                   TextColumn, TimeElapsedColumn, TimeRemainingColumn)
    except ImportError:  # the client alone: no bar, no complaint
        return None, None
    bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn(), TimeRemainingColumn(),
                       console=Console(file=stream), transient=False)
    task = bar.add_task(label, total=total)
    bar.start()
    return bar, task
