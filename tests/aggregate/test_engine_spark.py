"""The same query definitions on Apache Spark (local[2]) give exactly DuckDB's rows,
public statistics and private aggregates alike.

One Spark session for the whole comparison (its JVM takes seconds to start), bound to
loopback, without its web UI, with few shuffle partitions.  Java 17 comes from
Debian's openjdk-17-jre-headless, installed by `make test`.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from engine_helpers import random_declared, random_origins, random_pings, write_lake
from sempervirens.aggregate.engine import compute, compute_private, open_runner, queries
from sempervirens.model.periods import INTERVALS, period_start
from sempervirens.model.statistics import STATISTICS, Bounds

DAYS = [date(2026, 11, 27) + timedelta(days=i) for i in range(8)]  # two weeks
SPARK_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.shuffle.partitions": "2",
    # Tiny inputs: interpreted expressions and no adaptive re-planning cost less than
    # compiling code for every stage.
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}


def test_every_query_transpiles_to_spark_sql():
    from sempervirens.aggregate.engine._spark import to_spark

    for interval in INTERVALS:
        for query in queries(interval, Bounds()):
            spark_sql = to_spark(query.sql)
            assert "REGEXP_EXTRACT" in spark_sql or query.name in ("features", "timings",
                                                                  "opt_outs")
            assert "`count`" in spark_sql or query.name != "timings"


@pytest.mark.slow
@pytest.mark.timeout(900)  # 2 shared cores: 84 s at load average 4, 473 s at 20-30
def test_duckdb_and_spark_give_identical_rows(tmp_path, capfd):
    source = write_lake(tmp_path, random_pings(seed=29, days=DAYS, clients=40, pings=1500))
    declared = random_declared()
    origins = random_origins(seed=31, days=DAYS)
    runner = open_runner("spark", spark_master="local[2]", spark_conf=SPARK_CONF)
    try:
        # Days hold every statistic (the summed ones too); weeks merge days. Months run
        # the same text as weeks, with other starts: left out to keep the JVM's time short.
        for interval, bounds in (("day", Bounds(2, 3, 1, 1, 2)), ("week", Bounds())):
            starts = sorted({period_start(interval, day) for day in DAYS})
            duckdb_rows = compute(source, interval, starts, declared, bounds)
            spark_rows = compute(source, interval, starts, declared, bounds, engine=runner)
            assert set(spark_rows) == {s.name for s in STATISTICS if interval in s.intervals}
            for name, rows in duckdb_rows.items():
                assert rows, (interval, name)  # every statistic has rows to compare
                assert spark_rows[name] == rows, (interval, name)
            private = compute_private(origins, interval, starts)
            assert all(private.values()), interval
            assert compute_private(origins, interval, starts, engine=runner) == private, interval
    finally:
        runner.close()
    # Nothing of Spark's on stderr, the server's log stream (no warning, banner or progress
    # bar): only the JVM's own line about the incubator module Spark adds, which no setting
    # turns off.
    spark_said = [line for line in capfd.readouterr().err.splitlines()
                  if not line.startswith("WARNING: Using incubator modules")]
    assert spark_said == []


def test_a_failed_job_is_told_by_its_java_exception_not_py4js_first_line():
    from sempervirens.aggregate.engine._spark import _reason

    said = ("An error occurred while calling o101.collectToPython.\n"
            ": org.apache.spark.SparkException: Job aborted due to stage failure: "
            "[FAILED_READ_FILE.FILE_NOT_EXIST] file:///lake/pings/day=2026-11-27/part-0.parquet\n"
            "\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages(x.scala:1)")
    assert _reason(Exception(said)).startswith(
        "org.apache.spark.SparkException: Job aborted due to stage failure: "
        "[FAILED_READ_FILE.FILE_NOT_EXIST]")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_spark_with_its_code_generation_on_says_nothing_on_stderr(tmp_path, capfd):
    """With Spark's defaults (code generation on), a week's plan is too large for Java's
    code generator: Spark runs it interpreted, with the same rows, but logged an ERROR and
    a Java stack trace of 270 lines into the server's log stream."""
    week = DAYS[3:]  # Monday 2026-11-30 and the days after
    source = write_lake(tmp_path, random_pings(seed=37, days=week, clients=20, pings=300))
    declared = random_declared()
    conf = {k: v for k, v in SPARK_CONF.items() if "codegen" not in k}
    rows = compute(source, "week", [week[0]], declared, Bounds(), engine="spark",
                   spark_conf=conf)
    assert rows == compute(source, "week", [week[0]], declared, Bounds())
    spark_said = [line for line in capfd.readouterr().err.splitlines()
                  if not line.startswith("WARNING: Using incubator modules")]
    assert spark_said == []
