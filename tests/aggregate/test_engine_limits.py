"""Inputs at the edges where the engines (DuckDB, Spark) and the Python reference must
still agree exactly, and the contribution bounds still hold.

- counts at their limits: one installation's counter values (each at most MAX_COUNT,
  2**53 - 1, as the protocol allows) summing past 2**63 in a day, and a timing whose
  samples sum past 2**62 (where `2 * below` overflows a BIGINT) or 2**63;
- a lake stored under a directory whose name looks like a Hive partition of one of the
  lake's own columns (`project=…`, `ping_type=…`, `day=…`).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine_helpers import usage, write_lake
from sempervirens.aggregate.engine import compute, open_runner
from sempervirens.model.limits import MAX_COUNT
from sempervirens.model.statistics import Bounds
from test_engine_reference import reference
from test_engine_spark import SPARK_CONF

DAY = date(2026, 11, 30)


def _overflow_cases():
    """(name, pings, declared): each of one day, each with an honest installation beside."""
    counter = [usage("p", "big", DAY, counters=[("c", "", MAX_COUNT)]) for _ in range(1025)]
    counter.append(usage("p", "small", DAY, counters=[("c", "", 3)]))
    half = [usage("p", "big", DAY, timings=[("t", 0, MAX_COUNT)]) for _ in range(513)]
    half.append(usage("p", "small", DAY, timings=[("t", 8, 3)]))
    total = [usage("p", "big", DAY, timings=[("t", 40, MAX_COUNT)]) for _ in range(1025)]
    total.append(usage("p", "small", DAY, timings=[("t", 8, 3)]))
    return [("counter_sum_past_2_63", counter, [("p", "counter", "c", "")]),
            ("timing_half_past_2_62", half, [("p", "timing", "t", "")]),
            ("timing_sum_past_2_63", total, [("p", "timing", "t", "")])]


@pytest.mark.parametrize("name,pings,declared", _overflow_cases(), ids=lambda v: v
                         if isinstance(v, str) else "")
def test_duckdb_counts_at_their_limits_equal_the_reference(tmp_path, name, pings, declared):
    source = write_lake(tmp_path, pings)
    expected = reference(pings, "day", [DAY], declared, Bounds())
    assert compute(source, "day", [DAY], declared, Bounds()) == expected
    if name.startswith("counter"):
        assert expected["feature_events"] == [("p", DAY, "c", "", 10 + 3)]  # clamped


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("ansi", ["true", "false"])
def test_spark_counts_at_their_limits_equal_duckdb(tmp_path, ansi):
    """Spark's BIGINT sums overflow where DuckDB's (HUGEINT) do not: under ANSI mode
    (Spark 4's default) the whole job fails; without it, one installation's clamped
    events become about -2**63 and its timing median moves or vanishes."""
    runner = open_runner("spark", spark_master="local[2]",
                         spark_conf={**SPARK_CONF, "spark.sql.ansi.enabled": ansi})
    try:
        for name, pings, declared in _overflow_cases():
            source = write_lake(tmp_path / name, pings)
            duckdb_rows = compute(source, "day", [DAY], declared, Bounds())
            spark_rows = compute(source, "day", [DAY], declared, Bounds(), engine=runner)
            assert spark_rows == duckdb_rows, name
    finally:
        runner.close()


def _small_lake():
    return [usage("p", "a", DAY, counters=[("c", "", 2)]),
            usage("p", "a2", DAY, counters=[("c", "", 2)]),
            usage("p", "b", DAY, counters=[("c", "", 2)]),
            usage("q", "c", DAY, counters=[("c", "", 2)])]


@pytest.mark.parametrize("parent", ["project=q", "ping_type=crash", "day=2020-01-01",
                                    "client_id=x"])
def test_a_lake_under_a_key_value_directory_reads_its_own_columns(tmp_path, parent):
    """Only the lake's own `day=` directory is a partition: a directory above the lake
    named like one of its columns must change nothing (Spark reads from `basePath`)."""
    declared = [("p", "counter", "c", ""), ("q", "counter", "c", "")]
    plain = compute(write_lake(tmp_path / "plain" / "lake", _small_lake()), "day", [DAY], declared)
    nested = write_lake(Path(tmp_path / parent / "lake"), _small_lake())
    assert compute(nested, "day", [DAY], declared) == plain
    assert [r[-1] for r in plain["installs"] if r[2] == ""] == [3, 1]
