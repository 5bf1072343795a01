"""What both runners share: the daily stage, computed once per day and kept.

A runner keeps the daily tables (_queries.daily_queries) of every day it has
computed, so that a cycle closing a day, its week and its month reads each day's
files once.  They are computed again when the declarations or the bounds change,
or when a day's files are not the ones they were computed from (a deletion
rewrites a day into files of new names; the lake never changes a file in place).  Subclasses run the SQL: `lake`, `small`, `append`, `drop`, `rows`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ...model.lake import PARTITION
from ...model.statistics import Bounds
from ._queries import daily_queries
from ._tables import DECLARED_COLUMNS

_DAILY_TABLES = tuple(d.table for d in daily_queries(Bounds()))


def day_of(path: str) -> date:
    """The day of a lake file, from its `day=YYYY-MM-DD` directory."""
    return date.fromisoformat(Path(path).parent.name[len(PARTITION) + 1:])


class Runner:
    def __init__(self) -> None:
        self._daily_key: tuple | None = None  # (declared rows, bounds) of the daily tables
        self._daily_files: dict[date, tuple] = {}  # day -> the files it was computed from

    def daily(self, files: dict[str, list[str]], days: set[date], declared: list[tuple],
              bounds: Bounds) -> None:
        """Make the daily tables hold `days`, computing only the days not held yet."""
        wanted = {day: tuple(sorted(f"{table}:{path}" for table, paths in files.items()
                                    for path in paths if day_of(path) == day))
                  for day in days}
        key = (tuple(declared), bounds)
        if key != self._daily_key or any(self._daily_files.get(day, found) != found
                                         for day, found in wanted.items()):
            self.forget()
            self._daily_key = key
            self.small("declared", DECLARED_COLUMNS, declared, "string")
        missing = {day for day in wanted if day not in self._daily_files}
        if not missing:
            return
        self.lake({table: [p for p in paths if day_of(p) in missing]
                   for table, paths in files.items()})
        for query in daily_queries(bounds):
            self.append(query.table, query.sql)
        self._daily_files.update((day, wanted[day]) for day in missing)

    def forget(self) -> None:
        """Drop the daily tables: the next compute() reads every day it needs again."""
        self.drop(_DAILY_TABLES)
        self._daily_files = {}
        self._daily_key = None

    # -- what each runner implements ---------------------------------------------------

    def lake(self, files: dict[str, list[str]]) -> None:
        """(Re)define the lake's views over these files."""
        raise NotImplementedError

    def small(self, name: str, columns: tuple[str, ...], rows: list[tuple], kind: str) -> None:
        """(Re)define a small table of `kind` ('string' or 'date') columns."""
        raise NotImplementedError

    def append(self, table: str, sql: str) -> None:
        """Add the rows of `sql` to `table` (made by the first call)."""
        raise NotImplementedError

    def drop(self, tables: tuple[str, ...]) -> None:
        raise NotImplementedError

    def rows(self, sql: str) -> list[tuple]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError
