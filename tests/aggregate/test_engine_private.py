"""The private aggregates on the engine (DuckDB) against a plain Python count of the same
definitions, and a case worked out by hand: an installation seen at two institutions and
on two days of a week counts once per institution, kind and period."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import pytest

from engine_helpers import random_origins
from sempervirens.aggregate.engine import EngineError, compute_private
from sempervirens.model.periods import period_start

DAYS = [date(2026, 11, 25) + timedelta(days=i) for i in range(10)]  # across weeks and months
MONDAY, TUESDAY = date(2026, 11, 30), date(2026, 12, 1)
SUMMARY = ("users", "academic", "other", "unknown", "edu")
PLANTED = [
    ("delta", MONDAY, "p1", "academic", "Stanford University", True),
    ("delta", MONDAY, "p1", "other", "example-corp.com", False),
    ("delta", TUESDAY, "p1", "academic", "Stanford University", True),
    ("delta", TUESDAY, "p2", "unknown", None, False),
    ("delta", MONDAY + timedelta(days=7), "p3", "other", "example-corp.com", False),
]


def reference(origins, interval, starts):
    starts = set(starts)
    institutions = defaultdict(set)
    summary = defaultdict(lambda: {column: set() for column in SUMMARY})
    for project, day, client, kind, institution, edu in origins:
        start = period_start(interval, day)
        if start not in starts:
            continue
        if institution is not None:
            institutions[project, start, institution, kind].add(client)
        counted = summary[project, start]
        for column, yes in zip(SUMMARY, (True, kind == "academic", kind == "other",
                                         kind == "unknown", edu)):
            if yes:
                counted[column].add(client)
    return {"private_institution_users": sorted((*k, len(v)) for k, v in institutions.items()),
            "private_origin_summary": sorted((*k, *(len(c[n]) for n in SUMMARY))
                                             for k, c in summary.items())}


@pytest.mark.parametrize("interval", ["day", "week", "month"])
def test_private_aggregates_equal_a_python_count(interval):
    origins = random_origins(seed=41, days=DAYS) + PLANTED
    # The first period is not asked for: its days are ignored.
    starts = sorted({period_start(interval, day) for day in DAYS})[1:]
    found = compute_private(origins, interval, starts)
    assert all(found.values())
    assert found == reference(origins, interval, starts)


def test_an_installation_counts_once_per_institution_kind_and_period():
    week = compute_private(PLANTED, "week", [MONDAY])
    assert week["private_institution_users"] == [
        ("delta", MONDAY, "Stanford University", "academic", 1),
        ("delta", MONDAY, "example-corp.com", "other", 1)]
    # users, academic, other, unknown, edu: p1 and p2; p3 is seen the next week.
    assert week["private_origin_summary"] == [("delta", MONDAY, 2, 1, 1, 1, 1)]
    days = compute_private(PLANTED, "day", [MONDAY, TUESDAY])
    assert days["private_origin_summary"] == [("delta", MONDAY, 1, 1, 1, 0, 1),
                                              ("delta", TUESDAY, 2, 1, 0, 1, 1)]


@pytest.mark.parametrize("origins, interval, starts, message", [
    ([("delta", MONDAY, "p1", "academic", "Stanford University")], "week", [MONDAY],
     "an origins row is"),
    ([("delta", "2026-11-30", "p1", "unknown", None, False)], "week", [MONDAY],
     "an origins row is"),
    ([("delta", MONDAY, "p1", "unknown", None, 0)], "week", [MONDAY], "an origins row is"),
    (PLANTED, "fortnight", [MONDAY], "interval must be one of day, week, month"),
    (PLANTED, "week", [TUESDAY], "is not the first day of a week"),
    (PLANTED, "month", [MONDAY], "is not the first day of a month"),
])
def test_bad_input_is_a_one_line_error(origins, interval, starts, message):
    with pytest.raises(EngineError, match=message) as error:
        compute_private(origins, interval, starts)
    assert "\n" not in str(error.value)


def test_each_query_returns_its_catalogue_tables_columns_in_order():
    """The cycle stores the engine's rows by position (aggregate/institutions.py)."""
    import duckdb
    import typing

    from sempervirens.aggregate.engine._private_queries import PRIVATE_QUERIES
    from sempervirens.enrich._classify import Kind
    from sempervirens.model.private import ORIGIN_KINDS, PRIVATE_TABLES

    assert typing.get_args(Kind) == ORIGIN_KINDS  # what enrichment makes, what is counted
    con = duckdb.connect()
    con.execute("CREATE TABLE origins (project VARCHAR, day DATE, client_id VARCHAR, "
                "kind VARCHAR, institution VARCHAR, edu BOOLEAN)")
    con.execute("CREATE TABLE periods (period_start DATE, day DATE)")
    for table in PRIVATE_TABLES:
        described = con.execute(f"DESCRIBE {PRIVATE_QUERIES[table.name]}").fetchall()
        columns = [row[0] for row in described]
        assert columns == ["project", "period_start", *(k for k, _ in table.keys), *table.counts]
