"""compute(): every statistic released on an interval, for the given periods;
compute_private(): the private aggregates of an interval."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from ...model.statistics import STATISTICS, Bounds
from ._private_queries import PRIVATE_QUERIES
from ._queries import queries
from ._temp import check_base
from ._tables import declared_rows, origin_rows, period_days, source_files
from .errors import EngineError

ENGINES = ("duckdb", "spark")
# Periods are computed in batches of at most this many days of data (a month, the longest
# period, is one), so that a job's working set is a month's whatever its span: the 90
# days of a first release at once did not fit the least memory limit (512 MiB), 31 do.
BATCH_DAYS = 31


def open_runner(engine: str = "duckdb", *, memory_limit: str | None = None,
                threads: int | None = None, temp_dir: str | None = None,
                spark_master: str = "local[2]", spark_conf: dict[str, str] | None = None):
    """A runner to pass as `engine=` to several compute() calls (close() it after)."""
    if engine == "duckdb":
        from ._duckdb import DuckDBRunner

        return DuckDBRunner(memory_limit, threads, temp_dir)
    if engine == "spark":
        from ._spark import SparkRunner

        return SparkRunner(spark_master, temp_dir, spark_conf)
    raise EngineError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")


def open_runner_from_settings(values: Mapping):
    """open_runner() from the operator's settings (settings.resolve())."""
    return open_runner(values["engine"], memory_limit=values["engine_memory_limit"],
                       threads=values["engine_threads"], temp_dir=values["engine_temp_dir"],
                       spark_master=values["spark_master"],
                       spark_conf=dict(pair.split("=", 1) for pair in values["spark_conf"]))


def check_engine(values: Mapping) -> str:
    """What the settings' engine would run on, checked without running a job or making
    anything: its temp dir; DuckDB's memory limit; for Spark, pyspark, Java and the master
    answering.  EngineError, one line, for the first problem."""
    temp_dir = check_base(values["engine_temp_dir"])
    if values["engine"] == "spark":
        from ._spark import preflight

        preflight(values["spark_master"])
        return f"spark at {values['spark_master']}, spilling to {temp_dir}"
    from ._duckdb import buffer_limit

    return f"duckdb, buffers {buffer_limit(values['engine_memory_limit'])}, spilling to {temp_dir}"


def compute(source: Mapping[str, Iterable], interval: str, period_starts: Iterable[date],
            declared: Iterable[Sequence[str]], bounds: Bounds = Bounds(), *,
            engine="duckdb", **options) -> dict[str, list[tuple[str, date, str, str, int]]]:
    """The exact, bounded counts of every statistic released on `interval`.

    source: lake table name -> its Parquet files (Hive `day=` directories), e.g.
      {t: lake.files(t, days)}; files of days outside the periods are ignored.
    period_starts: first days of the periods of `interval` to compute.
    declared: (project, kind, name, label) rows, every project's Declaration.rows().
    engine: 'duckdb', 'spark', or a runner from open_runner() (kept open);
      options: open_runner()'s keywords.

    Returns {statistic name: sorted rows (project, period_start, key1, key2, n)}, one
    entry for each statistic of model.statistics released on `interval`.
    """
    files = source_files(source)
    periods = period_days(interval, period_starts)
    rows = declared_rows(declared)
    if not isinstance(bounds, Bounds):
        raise EngineError(f"bounds must be a model.statistics.Bounds, not {bounds!r}")
    results = {s.name: [] for s in STATISTICS if interval in s.intervals}
    with _running(engine, options) as runner:
        for batch in _batches(periods):
            days = {day for _, day in batch}
            runner.load({table: [path for path, day in found.items() if day in days]
                         for table, found in files.items()},
                        {"periods": batch, "declared": rows})
            for query in queries(interval, bounds):
                for project, start, key1, key2, *counts in runner.rows(query.sql):
                    for statistic, n in zip(query.statistics, counts):
                        results[statistic].append((project, start, key1, key2, int(n)))
    return {name: sorted(found) for name, found in results.items()}


def _batches(periods: list[tuple[date, date]]) -> list[list[tuple[date, date]]]:
    """The (period_start, day) rows in batches of whole periods, at most BATCH_DAYS days
    each (or one period, if longer)."""
    batches: list[list[tuple[date, date]]] = []
    for _, days in itertools.groupby(periods, key=lambda row: row[0]):
        days = list(days)
        if batches and len(batches[-1]) + len(days) <= BATCH_DAYS:
            batches[-1] += days
        else:
            batches.append(days)
    return batches


def compute_private(origins: Iterable[Sequence], interval: str, period_starts: Iterable[date],
                    *, engine="duckdb", **options) -> dict[str, list[tuple]]:
    """The private aggregates of `interval` for the given periods, from `origins`:
    (project, day, client_id, kind, institution or None, edu) rows, the distinct
    origins of each installation per UTC day; days outside the periods are ignored.
    engine, options: as for compute().

    Returns {private table name: sorted rows of its columns without `interval`}:
    private_institution_users (project, period_start, institution, kind, users) and
    private_origin_summary (project, period_start, users, academic, other, unknown, edu).
    """
    periods = period_days(interval, period_starts)
    rows = origin_rows(origins)
    with _running(engine, options) as runner:
        if not periods:
            return {name: [] for name in PRIVATE_QUERIES}
        runner.load({}, {"periods": periods, "origins": rows})  # no lake table
        return {name: sorted(runner.rows(sql)) for name, sql in PRIVATE_QUERIES.items()}


@contextlib.contextmanager
def _running(engine, options):
    """The runner `engine` names, opened and closed here, or the open runner given."""
    if not isinstance(engine, str):
        yield engine
        return
    runner = open_runner(engine, **options)
    try:
        yield runner
    finally:
        runner.close()
