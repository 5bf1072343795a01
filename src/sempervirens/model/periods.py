"""Periods: UTC days, ISO weeks (from Monday) and calendar months, as [start, end) days."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

INTERVALS = ("day", "week", "month")


def period_start(interval: str, day: date) -> date:
    if interval == "day":
        return day
    if interval == "week":
        return day - timedelta(days=day.weekday())  # Monday
    return day.replace(day=1)


def period_end(interval: str, start: date) -> date:
    """The first day after the period."""
    if interval == "day":
        return start + timedelta(days=1)
    if interval == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def ranges(interval: str, starts: Iterable[date]) -> list[tuple[date, date]]:
    """Contiguous [lo, hi) runs of whole periods, so one statement covers each run."""
    runs: list[list[date]] = []
    for start in sorted(set(starts)):
        if runs and runs[-1][1] == start:
            runs[-1][1] = period_end(interval, start)
        else:
            runs.append([start, period_end(interval, start)])
    return [(lo, hi) for lo, hi in runs]
