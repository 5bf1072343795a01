"""Exact counts shaped as the engine gives them, and two projects' declarations."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sempervirens.model.declarations import Declaration, Metric

MONDAY = date(2026, 11, 2)  # a week inside one month
LATER = datetime(2027, 1, 1, tzinfo=timezone.utc)  # every period of November is closed

NUMPY = Declaration(
    (Metric("io.read_csv", "counter", "Calls of read_csv."),
     Metric("io.format", "labeled_counter", "Files read, by format.", labels=("csv", "parquet")),
     Metric("linalg.solve", "timing", "Duration of solve.")),
    versions=(), crash_kinds=("ValueError",))
SCIPY = Declaration(versions=("1.0", "1.1"))


def day_exact(day: date, installs: int = 5000) -> dict:
    """Exact counts of one day, shaped as the engine gives them."""
    return {
        "installs": [("numpy", day, "", "", installs), ("numpy", day, "os", "linux", installs),
                     ("numpy", day, "version", "2.1", installs - 100),
                     ("numpy", day, "version", "2.0", 100),
                     ("scipy", day, "", "", 3000), ("scipy", day, "version", "1.1", 3000)],
        "feature_users": [("numpy", day, "io.read_csv", "", 2000)],
        "feature_events": [("numpy", day, "io.read_csv", "", 50000)],
        "timing_users": [("numpy", day, "linalg.solve", str(2 ** b), 3000) for b in range(10, 16)],
        "opt_outs": [("numpy", day, "", "", 40)],
    }


def release_days(engine, domains, settings, start: date, days: int, **kwargs):
    from sempervirens.release import release_period

    for i in range(days):
        day = start + timedelta(days=i)
        release_period(engine, domains, "day", day, day_exact(day), settings, now=LATER, **kwargs)
