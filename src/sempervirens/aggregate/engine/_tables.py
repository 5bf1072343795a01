"""What a runner registers before the queries run: the lake's tables, and small tables
made from the arguments (the periods' days, the projects' declarations, the origins)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path

from ...model.declarations import ROW_KINDS as DECLARED_KINDS
from ...model.lake import BOOL, LAKE_TABLES, PARTITION, STRING
from ...model.periods import INTERVALS, period_end, period_start
from .errors import EngineError

DATE = "date"  # also the type of the lake's Hive column `day`
# The small tables, declared once: each runner types its columns from here.
SMALL_TABLES = {
    "periods": (("period_start", DATE), ("day", DATE)),
    "declared": (("project", STRING), ("kind", STRING), ("name", STRING), ("label", STRING)),
    # The private aggregates' input: the distinct origins of each installation per UTC
    # day, from the private store (no address); institution NULL when there is none.
    "origins": (("project", STRING), ("day", DATE), ("client_id", STRING), ("kind", STRING),
                ("institution", STRING), ("edu", BOOL)),
}
LAKE_NAMES = tuple(t.name for t in LAKE_TABLES)


def period_days(interval: str, starts: Iterable[date]) -> list[tuple[date, date]]:
    """(period_start, day) for every day of the given periods of `interval`."""
    if interval not in INTERVALS:
        raise EngineError(f"interval must be one of {', '.join(INTERVALS)}, not {interval!r}")
    rows = []
    for start in sorted(set(starts)):
        if not isinstance(start, date) or period_start(interval, start) != start:
            raise EngineError(f"{start!r} is not the first day of a {interval}")
        day = start
        while day < period_end(interval, start):
            rows.append((start, day))
            day += timedelta(days=1)
    return rows


def declared_rows(declared: Iterable[Sequence[str]]) -> list[tuple[str, str, str, str]]:
    """The `declared` rows, checked: (project, kind, name, label) strings."""
    rows = []
    for row in declared:
        if len(row) != 4 or not all(isinstance(v, str) for v in row):
            raise EngineError("a declared row is (project, kind, name, label) strings, "
                              f"not {row!r}")
        if row[1] not in DECLARED_KINDS:
            raise EngineError(f"declared kind must be one of {', '.join(DECLARED_KINDS)}, "
                              f"not {row[1]!r}")
        rows.append(tuple(row))
    return sorted(set(rows))


def origin_rows(origins: Iterable[Sequence]) -> list[tuple]:
    """The `origins` rows, checked: (project, day, client_id, kind, institution, edu)."""
    rows = []
    for row in origins:
        if (len(row) != 6 or not all(isinstance(row[i], str) for i in (0, 2, 3))
                or type(row[1]) is not date or not isinstance(row[4], (str, type(None)))
                or not isinstance(row[5], bool)):
            raise EngineError("an origins row is (project, day, client_id, kind, institution, "
                              f"edu): str, date, str, str, str or None, bool; not {row!r}")
        rows.append(tuple(row))
    return rows


def source_files(source: Mapping[str, Iterable]) -> dict[str, dict[str, date]]:
    """The lake's files per table, each with its day (every table present, possibly
    with no file)."""
    unknown = set(source) - set(LAKE_NAMES)
    if unknown:
        raise EngineError(f"unknown lake table {sorted(unknown)[0]!r} "
                          f"(expected {', '.join(LAKE_NAMES)})")
    return {name: {str(p): file_day(str(p)) for p in source.get(name, ())}
            for name in LAKE_NAMES}


def file_day(path: str) -> date:
    """The day of a lake file, from its `day=YYYY-MM-DD` directory."""
    hive_base(path)  # fails early on a path outside the layout
    try:
        return date.fromisoformat(Path(path).parent.name[len(PARTITION) + 1:])
    except ValueError:
        raise EngineError(f"{path}: not in a {PARTITION}=YYYY-MM-DD directory of the lake") from None


def hive_base(path: str) -> str:
    """The directory holding a file's `day=YYYY-MM-DD` directory."""
    parent = Path(path).parent
    if not parent.name.startswith(PARTITION + "="):
        raise EngineError(f"{path}: not in a {PARTITION}=YYYY-MM-DD directory of the lake")
    return str(parent.parent)
