"""The engine's statistics against a tiny lake whose every count is worked out by hand.

Each planted case names what it checks; removing the feature changes a count here.
Project 'astro' declares its metrics, versions and crash kinds; 'geno' declares none.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date

import pytest

from engine_helpers import ping, usage, write_lake
from sempervirens.aggregate.engine import EngineError, compute, open_runner
from sempervirens.aggregate.engine._duckdb import BUFFER_SHARE, RESERVE
from sempervirens.model.declarations import Declaration, Metric
from sempervirens.model.domains import BREAKDOWN_NAMES
from sempervirens.model.statistics import STATISTICS, Bounds
from sempervirens.settings import ENGINE_MEMORY_MINIMUM, machine_memory, memory_bytes

D1, D2 = date(2026, 11, 30), date(2026, 12, 1)  # a Monday and the Tuesday, across a month
WEEK = D1
BOUNDS = Bounds(max_features=2, max_events_per_day=5, max_timings=1, max_crash_cells=1,
                max_crashes_per_day=2)
ASTRO = Declaration(
    (Metric("io.read", "counter", "Reads."),
     Metric("io.format", "labeled_counter", "Formats.", labels=("csv", "fits")),
     Metric("solve", "timing", "Solver."), Metric("load", "timing", "Loading.")),
    versions=("1.0", "2.0"), crash_kinds=("ValueError",))
DECLARED = [("astro", *row) for row in ASTRO.rows()]


def _pings():
    return [
        # c1 changes platform between the days: its week counts its greatest values.
        usage("astro", "c1", D1, project_version="1.0.3", os="Linux", arch="x86_64",
              python_version="3.11.2", is_ci=False,
              counters=[("io.read", "", 3), ("io.format", "csv", 4),
                        ("io.format", "xlsx", 2),  # undeclared label -> (other)
                        ("io.format", "fits", 1),
                        ("secret.metric", "", 100),  # undeclared metric: never appears
                        ("io.read", "x", 7),  # a label on a plain counter: not declared
                        ("io.format", "", 9)],  # a labeled counter without label: neither
              timings=[("solve", 40, 2), ("solve", 41, 1), ("load", 8, 1),
                       ("undeclared.timing", 10, 5), ("io.read", 12, 3)]),
        usage("astro", "c1", D1, python_version="3.11.2",
              counters=[("io.read", "", 4), ("io.format", "parquet", 6)]),
        usage("astro", "c1", D2, project_version="2.0.0", os="Darwin", arch="arm64",
              python_version="3.12.0", is_ci=True,
              counters=[("io.format", "csv", 3)], timings=[("solve", 48, 4)]),
        # c2 reports nothing about itself: (unknown) everywhere.
        usage("astro", "c2", D1, project_version=None, os=None, arch=None, python_version=None,
              is_ci=None, counters=[("io.format", "csv", 2)],
              timings=[("solve", 3, 1), ("load", 9, 5)]),
        # c3: values outside the public domains.
        usage("astro", "c3", D1, project_version="3.1", os="Haiku", arch="AMD64",
              python_version="2.7.18", is_ci=False),
        *[ping("astro", "c1", D1, ping_type="crash", crash_type="ValueError",
               project_version="1.0.2") for _ in range(3)],
        ping("astro", "c1", D1, ping_type="crash", crash_type="KeyError", project_version="1.0.0"),
        *[ping("astro", "c1", D2, ping_type="crash", crash_type="KeyError",
               project_version="2.0.1") for _ in range(2)],
        ping("astro", "c2", D1, ping_type="crash"),  # no type, no version
        ping("astro", None, D1, ping_type="opt-out"),
        ping("astro", None, D1, ping_type="opt-out"),
        # geno declares nothing: versions kept as major.minor, no feature, timing or kind.
        usage("geno", "g1", D1, project_version="0.9.1", counters=[("align.run", "", 3)],
              timings=[("align.run", 20, 1)]),
        usage("geno", "g2", D1, project_version="1.2rc1"),
        usage("geno", "g2", D2, project_version="1.3.0"),
        ping("geno", "g1", D1, ping_type="crash", crash_type="AlignError",
             project_version="0.9.1"),
        ping("geno", None, D2, ping_type="opt-out"),
    ]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return write_lake(tmp_path_factory.mktemp("lake"), _pings())


@pytest.fixture(scope="module")
def days(source):
    return compute(source, "day", [D1, D2], DECLARED, BOUNDS)


@pytest.fixture(scope="module")
def week(source):
    return compute(source, "week", [WEEK], DECLARED, BOUNDS)


def cells(rows, project, start):
    return {(k1, k2): n for p, s, k1, k2, n in rows if (p, s) == (project, start)}


def breakdown(rows, project, start, name):
    return {value: n for (k1, value), n in cells(rows, project, start).items() if k1 == name}


def test_each_interval_gets_exactly_the_statistics_released_on_it(days, week):
    assert set(days) == {s.name for s in STATISTICS}
    assert set(week) == {s.name for s in STATISTICS if not s.summed}


def test_installs_count_each_installation_once_under_its_public_values(days):
    d1 = cells(days["installs"], "astro", D1)
    assert d1[("", "")] == 3  # c1, c2, c3
    assert breakdown(days["installs"], "astro", D1, "version") == {
        "1.0": 1, "(unknown)": 1, "(other)": 1}  # 3.1 is not declared
    assert breakdown(days["installs"], "astro", D1, "os") == {
        "linux": 1, "(unknown)": 1, "(other)": 1}
    assert breakdown(days["installs"], "astro", D1, "arch") == {"x86_64": 2, "(unknown)": 1}
    assert breakdown(days["installs"], "astro", D1, "python") == {
        "3.11": 1, "(unknown)": 1, "(other)": 1}
    assert breakdown(days["installs"], "astro", D1, "ci") == {"false": 2, "(unknown)": 1}
    assert cells(days["installs"], "astro", D2) == {
        ("", ""): 1, ("version", "2.0"): 1, ("os", "macos"): 1, ("arch", "arm64"): 1,
        ("python", "3.12"): 1, ("ci", "true"): 1,
        # c1 reports no other field (test_engine_environment_tags.py has the tags)
        **{(name, "(unknown)"): 1 for name in BREAKDOWN_NAMES[5:]}}


def test_each_breakdown_adds_up_to_the_total(days, week):
    for rows in (days["installs"], week["installs"]):
        for (project, start) in {(p, s) for p, s, *_ in rows}:
            found = cells(rows, project, start)
            for name in BREAKDOWN_NAMES:
                assert sum(breakdown(rows, project, start, name).values()) == found[("", "")]


def test_a_week_counts_an_installation_once_under_its_greatest_values(week):
    assert cells(week["installs"], "astro", WEEK)[("", "")] == 3
    # c1: 1.0/linux/x86_64/3.11/false on Monday, 2.0/macos/arm64/3.12/true on Tuesday
    assert breakdown(week["installs"], "astro", WEEK, "version") == {
        "2.0": 1, "(unknown)": 1, "(other)": 1}
    assert breakdown(week["installs"], "astro", WEEK, "os") == {
        "macos": 1, "(unknown)": 1, "(other)": 1}
    assert breakdown(week["installs"], "astro", WEEK, "arch") == {"x86_64": 2, "(unknown)": 1}
    assert breakdown(week["installs"], "astro", WEEK, "ci") == {
        "true": 1, "false": 1, "(unknown)": 1}


def test_versions_are_kept_as_major_minor_without_a_declaration(days, week):
    assert breakdown(days["installs"], "geno", D1, "version") == {"0.9": 1, "1.2": 1}
    assert breakdown(days["installs"], "geno", D2, "version") == {"1.3": 1}
    assert breakdown(week["installs"], "geno", WEEK, "version") == {"0.9": 1, "1.3": 1}


def test_features_count_declared_cells_bounded_per_installation(days, week):
    # c1 on Monday: io.read 3+4 -> 5, csv 4, (other) 2+6 -> 5, fits 1; two cells kept:
    # the most events, ties by metric then label: (io.format, (other)) and io.read.
    assert cells(days["feature_users"], "astro", D1) == {
        ("io.format", "(other)"): 1, ("io.read", ""): 1, ("io.format", "csv"): 1}
    assert cells(days["feature_events"], "astro", D1) == {
        ("io.format", "(other)"): 5, ("io.read", ""): 5, ("io.format", "csv"): 2}
    assert cells(days["feature_events"], "astro", D2) == {("io.format", "csv"): 3}
    # The week: c1's csv has 7 bounded events, (other) 5, io.read 5: io.read is cut.
    assert cells(week["feature_users"], "astro", WEEK) == {
        ("io.format", "csv"): 2, ("io.format", "(other)"): 1}


def test_nothing_undeclared_appears(days, week):
    for rows in (*days.values(), *week.values()):
        keys = {(k1, k2) for _, _, k1, k2, _ in rows}
        assert not {k for k in keys if {"secret.metric", "undeclared.timing", "xlsx", "parquet",
                                         "x", "KeyError", "AlignError", "align.run"} & set(k)}
    assert not [r for r in days["feature_users"] if r[0] == "geno"]
    assert ("io.format", "") not in cells(days["feature_users"], "astro", D1)


def test_timings_count_installations_by_their_median_bucket(days, week):
    # c1 Monday: solve 40:2 41:1 -> median 40 -> 2**10 us; load (1 sample) cut by the bound.
    # c2 Monday: solve 1 sample, load 9:5 -> load kept, median 9 -> 2**2 us.
    assert cells(days["timing_users"], "astro", D1) == {("solve", "1024"): 1, ("load", "4"): 1}
    assert cells(days["timing_users"], "astro", D2) == {("solve", "4096"): 1}
    # The week merges c1's histograms: 40:2 41:1 48:4 -> median 48 -> 2**12 us.
    assert cells(week["timing_users"], "astro", WEEK) == {("solve", "4096"): 1, ("load", "4"): 1}
    assert not [r for r in days["timing_users"] if r[0] == "geno"]


def test_crashes_by_declared_kind_and_version_bounded(days, week):
    # c1 Monday: 3 ValueError on 1.0 -> 2 a day; KeyError (other) cut by the one-cell bound.
    assert cells(days["crash_users"], "astro", D1) == {
        ("ValueError", "1.0"): 1, ("(unknown)", "(unknown)"): 1}
    assert cells(days["crash_events"], "astro", D1) == {
        ("ValueError", "1.0"): 2, ("(unknown)", "(unknown)"): 1}
    assert cells(days["crash_events"], "astro", D2) == {("(other)", "2.0"): 2}
    # The week: c1's cells have 2, 1 and 2 bounded crashes; ties by kind: '(other)' first.
    assert cells(week["crash_users"], "astro", WEEK) == {
        ("(other)", "2.0"): 1, ("(unknown)", "(unknown)"): 1}
    assert cells(days["crash_users"], "geno", D1) == {("(other)", "0.9"): 1}


def test_opt_outs_per_day(days):
    assert sorted(days["opt_outs"]) == [("astro", D1, "", "", 2), ("geno", D2, "", "", 1)]


def test_months_and_files_outside_the_periods(source):
    months = compute(source, "month", [date(2026, 11, 1)], DECLARED, BOUNDS)
    assert cells(months["installs"], "astro", date(2026, 11, 1))[("", "")] == 3
    assert not [r for rows in months.values() for r in rows if r[1] != date(2026, 11, 1)]
    assert cells(months["timing_users"], "astro", date(2026, 11, 1)) == {
        ("solve", "1024"): 1, ("load", "4"): 1}


def test_a_long_job_reads_a_month_of_days_at_a_time(tmp_path):
    """90 days at once did not fit the least memory limit on 10M pings: a job over many
    periods loads and queries at most BATCH_DAYS days of files at a time, whole periods,
    with the rows it would have given at once."""
    from datetime import timedelta

    from sempervirens.aggregate.engine._compute import BATCH_DAYS
    from sempervirens.aggregate.engine._duckdb import DuckDBRunner

    first = date(2026, 9, 1)
    span = [first + timedelta(days=i) for i in range(70)]
    source = write_lake(tmp_path / "lake", [
        usage("astro", f"c{i % 7}", day, counters=[("fit", "", 1 + i % 4)],
              timings=[("solve", 40 + i % 9, 2)]) for i, day in enumerate(span)])
    loaded = []

    class Recording(DuckDBRunner):
        def load(self, files, small):
            days = {day for _, day in small["periods"]}
            files_days = {date.fromisoformat(os.path.basename(os.path.dirname(p))[4:])
                          for paths in files.values() for p in paths}
            loaded.append((days, files_days))
            super().load(files, small)

    for interval, starts, sizes in [("day", span, [31, 31, 8]),
                                    ("week", [d for d in span if d.isoweekday() == 1][:9],
                                     [28, 28, 7])]:
        loaded.clear()
        runner = Recording()
        try:
            rows = compute(source, interval, starts, DECLARED, BOUNDS, engine=runner)
        finally:
            runner.close()
        assert [len(days) for days, _ in loaded] == sizes and max(sizes) <= BATCH_DAYS
        assert all(files_days <= days for days, files_days in loaded)  # its own days' files
        one_by_one = {name: [] for name in rows}
        for start in starts:
            for name, found in compute(source, interval, [start], DECLARED, BOUNDS).items():
                one_by_one[name] += found
        assert rows == {name: sorted(found) for name, found in one_by_one.items()}
        assert rows["installs"]


def test_no_files_and_no_periods(tmp_path):
    empty = compute({}, "day", [D1], DECLARED, BOUNDS)
    assert empty == {s.name: [] for s in STATISTICS}
    assert compute({}, "week", [], [], BOUNDS)["installs"] == []


@pytest.mark.parametrize("args, message", [
    (("fortnight", [D1]), "interval must be one of day, week, month"),
    (("week", [D2]), "is not the first day of a week"),
    (("month", [D2 + (D2 - D1)]), "is not the first day of a month"),
])
def test_bad_periods_are_one_line_errors(source, args, message):
    with pytest.raises(EngineError, match=message):
        compute(source, *args, DECLARED, BOUNDS)


def test_bad_arguments_are_one_line_errors(source, tmp_path):
    for limit in ("lots", "4 parsecs", "-1GB", 4, "1" + "0" * 310 + "MB"):
        with pytest.raises(EngineError, match="memory limit: not an amount of memory such as 4GB"):
            open_runner("duckdb", memory_limit=limit)
    for limit in ("511MiB", "100MB", "0GB"):  # less than the process needs at the least
        with pytest.raises(EngineError, match="memory limit: at least 512MiB"):
            open_runner("duckdb", memory_limit=limit)
    # More than the machine has: DuckDB would never spill, and the machine would run out
    with pytest.raises(EngineError, match="memory limit: at most this machine's memory"):
        open_runner("duckdb", memory_limit="100000TB")
    with pytest.raises(EngineError, match="engine must be one of duckdb, spark"):
        compute(source, "day", [D1], DECLARED, BOUNDS, engine="postgres")
    with pytest.raises(EngineError, match="declared kind must be one of"):
        compute(source, "day", [D1], [("astro", "gauge", "x", "")], BOUNDS)
    with pytest.raises(EngineError, match="unknown lake table 'events'"):
        compute({"events": []}, "day", [D1], DECLARED, BOUNDS)
    stray = tmp_path / "part-0.parquet"
    with pytest.raises(EngineError, match="not in a day=YYYY-MM-DD directory"):
        compute({"pings": [stray]}, "day", [D1], DECLARED, BOUNDS)


def test_duckdb_runs_under_a_memory_limit_and_spills_to_its_temp_dir(source, tmp_path):
    runner = open_runner("duckdb", memory_limit="600MB", threads=1, temp_dir=str(tmp_path))
    try:
        setting = dict(runner.connection.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN "
            "('memory_limit', 'threads', 'temp_directory', 'enable_progress_bar')").fetchall())
        # Each job spills into a directory of its own in the temp dir, gone after the job
        job_dir = setting["temp_directory"]
        assert setting["threads"] == "1" and os.path.dirname(job_dir) == str(tmp_path)
        assert os.path.basename(job_dir).startswith("sempervirens-engine-")
        assert setting["enable_progress_bar"] == "false"  # never drawn on the server's stdout
        # DuckDB's buffers get a share of the limit; the rest is for what they do not count
        assert abs(memory_bytes(setting["memory_limit"]) - BUFFER_SHARE * (600e6 - RESERVE)) < 3e6
        # the runner is reusable across calls, with the same results
        assert compute(source, "week", [WEEK], DECLARED, BOUNDS, engine=runner) == \
            compute(source, "week", [WEEK], DECLARED, BOUNDS)
    finally:
        runner.close()
    assert not os.path.exists(job_dir)


def test_a_killed_jobs_spill_is_removed_by_the_next_job(tmp_path):
    """kill -9 (or the OOM killer) leaves a job's spill behind: the next job removes it,
    and never the directory of a job still running, nor what is not a job's."""
    def job(then: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", f"""
import os, sys, time
from sempervirens.aggregate.engine._temp import JobTempDir
spill = JobTempDir({str(tmp_path)!r})
open(os.path.join(spill.path, "block-1.tmp"), "wb").write(b"0" * 4096)
print(spill.path, flush=True)
{then}"""], stdout=subprocess.PIPE, text=True)

    orphan = job("os._exit(9)").communicate()[0].strip()  # no clean-up, as after kill -9
    running = job("time.sleep(60)")
    alive = running.stdout.readline().strip()
    other = tmp_path / "sempervirens-engine-notes"  # no lock to ask, recent: left alone
    other.mkdir()
    stale = tmp_path / "sempervirens-engine-x1"  # no lock, untouched for two hours
    stale.mkdir()
    os.utime(stale, (time.time() - 7200,) * 2)
    try:
        open_runner("duckdb", temp_dir=str(tmp_path)).close()
        assert os.path.isdir(alive) and other.exists()
        assert not os.path.exists(orphan) and not stale.exists()
    finally:
        running.kill()
        running.communicate()
    open_runner("duckdb", temp_dir=str(tmp_path)).close()
    assert not os.path.exists(alive)  # its job was killed meanwhile


def test_an_unusable_temp_dir_is_one_line_error(tmp_path):
    missing = tmp_path / "a" / "b"  # made when missing
    open_runner("duckdb", temp_dir=str(missing)).close()
    assert missing.is_dir() and not list(missing.iterdir())
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(EngineError, match=f"engine temp dir {a_file}: cannot make a directory"):
        open_runner("duckdb", temp_dir=str(a_file))
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(EngineError, match="Permission denied"):
            open_runner("duckdb", temp_dir=str(locked))


def test_the_default_memory_limit_is_a_quarter_of_the_machine(tmp_path):
    runner = open_runner("duckdb")
    try:
        (limit,) = runner.connection.execute("SELECT current_setting('memory_limit')").fetchone()
        ram = machine_memory()
        default = max(ram / 4, ENGINE_MEMORY_MINIMUM)
        assert abs(memory_bytes(limit) - BUFFER_SHARE * (default - RESERVE)) < ram / 100
    finally:
        runner.close()


def test_the_operator_chooses_the_engine_in_the_settings(source, tmp_path):
    from sempervirens import settings
    from sempervirens.aggregate.engine import open_runner_from_settings

    values = settings.resolve(None, {"SEMPERVIRENS_ENGINE_MEMORY_LIMIT": "1GB",
                                     "SEMPERVIRENS_ENGINE_THREADS": "1",
                                     "SEMPERVIRENS_ENGINE_TEMP_DIR": str(tmp_path)})
    assert values["engine"] == "duckdb" and values["spark_master"] == "local[2]"
    runner = open_runner_from_settings(values)
    try:
        assert runner.name == "duckdb" and os.path.dirname(runner.temp.path) == str(tmp_path)
        assert runner.connection.execute("SELECT current_setting('threads')").fetchone() == (1,)
    finally:
        runner.close()


@pytest.mark.parametrize("name, value, message", [
    ("ENGINE", "postgres", "must be duckdb or spark, not 'postgres'"),
    ("ENGINE_MEMORY_LIMIT", "lots", "not an amount of memory such as 4GB"),
    ("ENGINE_MEMORY_LIMIT", "256MiB", "at least 512MiB, not '256MiB'"),
    ("ENGINE_MEMORY_LIMIT", "100000TB", "at most this machine's memory"),
    ("ENGINE_MEMORY_LIMIT", "1" + "0" * 310 + "MB", "not an amount of memory"),
    ("ENGINE_THREADS", "0", "must be a whole number from 1 to"),
    ("ENGINE_THREADS", "100000", "must be a whole number from 1 to"),
    ("ENGINE_TEMP_DIR", "", "empty location"),
    ("SPARK_MASTER", "http://spark", "not a Spark master URL"),
    ("SPARK_MASTER", "local[0]", "not a Spark master URL"),
    ("SPARK_CONF", "spark.driver.memory", "not a Spark property as spark.NAME=VALUE"),
    ("SPARK_CONF", "driver.memory=4g", "not a Spark property as spark.NAME=VALUE"),
])
def test_bad_engine_settings_are_one_line_errors(name, value, message):
    from sempervirens import settings

    with pytest.raises(SystemExit, match=f"^sempervirens: SEMPERVIRENS_{name}: {message}") as e:
        settings.resolve(None, {f"SEMPERVIRENS_{name}": value})
    assert "\n" not in str(e.value)
