"""Engine benchmark: the full aggregation job on a large generated lake, DuckDB and Spark.

Generates a lake of `--pings` pings over `--days` days (inside DuckDB, as Parquet in
Hive `day=` directories, the columns of model/lake.py; no row goes through Python),
from the projects of the simulated population (simulate/population.py: their
versions, counters, labels, timings and crash kinds, all declared), with
Zipf-like installations (their ids UUID-shaped, as the client's), then times with
each engine:

- the full job: every statistic, for every day, ISO week and month of the lake;
- a newly closed day alone: what the cycle computes on most days (a period is
  computed once, when it closes);
- a Sunday with its ISO week: what one day in seven closes;
- a month's last day with its ISO week and its month: the most one day can close;
- the peak memory of the process (DuckDB runs in it, under its memory limit).

The load average is printed beside each figure (the machine may be shared).
Usage: python bench/engine.py [--pings 10000000] [--days 90] [--threads 2]
                              [--skip-spark] [--skip-spark-full] [--spark-pings N]
                              [--lake DIR]
                              [--memory-limit 1GiB]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src")]

import duckdb  # noqa: E402

from sempervirens.aggregate.engine import compute, open_runner  # noqa: E402
from sempervirens.aggregate.engine._duckdb import buffer_limit, quarter_of_memory  # noqa: E402
from sempervirens.model.periods import INTERVALS, period_start  # noqa: E402
from sempervirens.model.statistics import Bounds  # noqa: E402
from sempervirens.simulate.population import PROJECTS  # noqa: E402

FIRST_DAY = date(2026, 10, 1)


def _array(values) -> str:
    return "[" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) + "]"


def declared_rows() -> list[tuple[str, str, str, str]]:
    rows = []
    for p in PROJECTS:
        rows += [(p.name, "counter", m, "") for m in p.counters]
        rows += [(p.name, "labeled_counter", m, label) for m, labels in p.labeled.items()
                 for label in labels]
        rows += [(p.name, "timing", m, "") for m in p.timings]
        rows += [(p.name, "crash", c, "") for c in p.crash_types]
        rows += [(p.name, "version", ".".join(v.split(".")[:2]), "") for v, _ in p.versions]
    return sorted(set(rows))


def generate(root: Path, pings: int, days: int) -> dict[str, list[str]]:
    """The lake, written by DuckDB; each ping's fields are hashes of its number."""
    spill = tempfile.mkdtemp(prefix="sempervirens-bench-spill-")  # not DuckDB's default, ./.tmp
    con = duckdb.connect(config={"temp_directory": spill})
    con.execute(f"SET threads = {os.cpu_count() or 2}")
    projects = _array(p.name for p in PROJECTS)
    n = len(PROJECTS)
    clients = max(pings // 25, 10)

    def pick(values_by_project, salt: str, step: str = "0") -> str:
        """SQL: one of the ping's project's values, by a hash of the ping and salt; the
        `step`-th after it (a ping's rows name distinct counters, as the client sends)."""
        cases = " ".join(
            f"WHEN {i} THEN {_array(values)}"
            f"[CAST(1 + (hash(p, '{salt}') + {step}) % {len(values)} AS BIGINT)]"
            for i, values in enumerate(values_by_project))
        return f"CASE project_index {cases} END"

    con.execute(f"""
        CREATE TABLE g AS
        SELECT p, client, project_index, {projects}[project_index + 1] AS project,
          CAST(CAST(md5('c-' || client) AS UUID) AS VARCHAR) AS client_id,  -- UUID-shaped
          DATE '{FIRST_DAY}' + CAST(hash(p, 'day') % {days} AS INTEGER) AS day,
          CASE WHEN hash(p, 'type') % 100 < 2 THEN 'opt-out'
               WHEN hash(p, 'type') % 100 < 5 THEN 'crash' ELSE 'usage' END AS ping_type
        FROM (SELECT range AS p,
                CAST(floor(pow(hash(range, 'client') % 1000000 / 1000000.0, 2) * {clients})
                     AS BIGINT) AS client
              FROM range({pings})),
             LATERAL (SELECT CAST(hash(client, 'project') % {n} AS INTEGER) AS project_index)
    """)
    versions = pick([[v for v, _ in p.versions] for p in PROJECTS], "version")
    crashes = pick([p.crash_types for p in PROJECTS], "crash")
    counters = pick([[*p.counters, *p.labeled] for p in PROJECTS], "metric", "r.range")
    timings = pick([list(p.timings) for p in PROJECTS], "timing")
    labels = [sorted({label for labels in p.labeled.values() for label in labels} | {"other"})
              for p in PROJECTS]
    label = pick(labels, "label")
    labeled = _array(m for p in PROJECTS for m in p.labeled)
    oses, arches = _array(["Linux", "Darwin", "Windows"]), _array(["x86_64", "arm64", "AMD64"])
    pythons = _array(["3.10.14", "3.11.9", "3.12.4", "3.13.0"])
    copies = {
        "pings": f"""
          SELECT 'd-' || p AS document_id, project,
            CASE WHEN ping_type = 'opt-out' THEN NULL ELSE client_id END AS client_id,
            ping_type, CAST(day AS TIMESTAMPTZ) AS received_at,
            CASE WHEN ping_type = 'opt-out' THEN NULL ELSE {versions} END AS project_version,
            'sempervirens' AS library_name, '0.1.0' AS library_version,
            CAST(day AS TIMESTAMPTZ) AS period_start, CAST(day AS TIMESTAMPTZ) AS period_end,
            {oses}[CAST(1 + hash(client, 'os') % 3 AS BIGINT)] AS os, '1' AS os_version,
            {arches}[CAST(1 + hash(client, 'arch') % 3 AS BIGINT)] AS arch,
            'CPython' AS python_implementation,
            {pythons}[CAST(1 + hash(client, 'python') % 4 AS BIGINT)] AS python_version,
            CAST(8 AS INTEGER) AS cpu_count, CAST(2 ^ 34 AS BIGINT) AS memory_total,
            hash(client, 'ci') % 10 = 0 AS is_ci, CAST(NULL AS VARCHAR) AS platform_tag,
            CAST(NULL AS BIGINT) AS peak_rss_bytes,
            CASE WHEN ping_type = 'crash' THEN {crashes} END AS crash_type,
            CAST(NULL AS VARCHAR) AS crash_traceback, CAST(NULL AS VARCHAR) AS dropped, day
          FROM g""",
        "counters": f"""
          SELECT 'd-' || p AS document_id, project, client_id, ping_type,
            metric, CASE WHEN list_contains({labeled}, metric) THEN {label} ELSE '' END
              AS label,
            CAST(1 + hash(p, r, 'value') % 20 AS BIGINT) AS value, day
          FROM (SELECT g.*, r.range AS r, {counters} AS metric
                FROM g, range(3) AS r WHERE ping_type = 'usage')""",
        "timings": f"""
          SELECT 'd-' || p AS document_id, project, client_id, ping_type,
            {timings} AS metric,
            CAST(40 + (hash(p, 'bucket') + r.range * (1 + hash(p, 'gap') % 39)) % 40 AS INTEGER)
              AS bucket,  -- two distinct buckets of one timing
            CAST(1 + hash(p, r, 'count') % 5 AS BIGINT) AS count, day
          FROM g, range(2) AS r WHERE ping_type = 'usage'""",
    }
    source = {}
    root.mkdir(parents=True, exist_ok=True)
    for table, select in copies.items():
        con.execute(f"COPY ({select}) TO '{root / table}' (FORMAT PARQUET, PARTITION_BY (day))")
        source[table] = sorted(str(path) for path in (root / table).glob("day=*/*.parquet"))
    con.close()
    shutil.rmtree(spill, ignore_errors=True)
    return source


def generated(root: Path, pings: int, days: int) -> dict[str, list[str]]:
    """generate() in a child process, so that the peak memory printed is the engine's."""
    with multiprocessing.get_context("fork").Pool(1) as pool:
        return pool.apply(generate, (root, pings, days))


def files_of(source, days: set[date]):
    return {table: [p for p in paths if date.fromisoformat(Path(p).parent.name[4:]) in days]
            for table, paths in source.items()}


def load() -> str:
    return "load %.1f %.1f %.1f" % os.getloadavg()


def run(engine, source, days: int, label: str, full: bool = True) -> None:
    all_days = [FIRST_DAY + timedelta(days=i) for i in range(days)]
    declared, bounds = declared_rows(), Bounds()

    def job(periods: list[tuple[str, date]]) -> tuple[float, int]:
        started, rows = time.perf_counter(), 0
        for interval, start in periods:
            covered = {d for d in all_days if period_start(interval, d) == start}
            rows += sum(map(len, compute(files_of(source, covered), interval, [start],
                                         declared, bounds, engine=engine).values()))
        return time.perf_counter() - started, rows

    if full:
        started, total = time.perf_counter(), 0
        for interval in INTERVALS:
            starts = sorted({period_start(interval, d) for d in all_days})
            total += sum(map(len, compute(source, interval, starts, declared, bounds,
                                          engine=engine).values()))
        print(f"{label}: full job (every statistic, {days} days, their weeks and months): "
              f"{time.perf_counter() - started:.1f} s, {total} rows  [{load()}]", flush=True)
    # The cycle computes a period once, when it closes: most days only the day itself.
    last = all_days[-1]
    seconds, _ = job([("day", last)])
    print(f"{label}: a newly closed day ({last}): {seconds:.2f} s  [{load()}]", flush=True)
    # A Sunday: the day and its ISO week (what one day in seven closes).
    sunday = max(d for d in all_days if d.isoweekday() == 7 and (d + timedelta(days=1)).day != 1)
    seconds, _ = job([("day", sunday), ("week", period_start("week", sunday))])
    print(f"{label}: a week's last day ({sunday}) with its week: {seconds:.2f} s  [{load()}]",
          flush=True)
    # A month's last day: the day, its ISO week and its month (the most one day closes).
    month_end = max(d for d in all_days if (d + timedelta(days=1)).day == 1)
    seconds, _ = job([(interval, period_start(interval, month_end)) for interval in INTERVALS])
    print(f"{label}: a month's last day ({month_end}) with its week and month: "
          f"{seconds:.2f} s  [{load()}]", flush=True)
    print(f"{label}: peak memory of the process so far: {peak_rss()}", flush=True)


def peak_rss() -> str:
    import resource

    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pings", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--skip-spark-full", action="store_true",
                        help="Spark: the closed day and the month's end only (on a large "
                             "lake its full job is long)")
    parser.add_argument("--spark-pings", type=int, default=None,
                        help="a smaller lake for Spark (default: the same lake)")
    parser.add_argument("--memory-limit", default=None,
                        help="the engine's memory limit (default: a quarter of RAM), e.g. 1GiB")
    parser.add_argument("--lake", type=Path, default=None,
                        help="keep the generated lake here, and reuse it if it is there")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sempervirens-bench-engine-"))
    try:
        started = time.perf_counter()
        listing = args.lake / "source.json" if args.lake else None
        if listing and listing.exists():
            source = json.loads(listing.read_text())
        else:
            source = generated(args.lake or root / "lake", args.pings, args.days)
            if listing:
                listing.write_text(json.dumps(source))
        rows = duckdb.connect().execute(
            f"SELECT count(*) FROM read_parquet({_array(source['pings'])})").fetchone()
        print(f"lake: {rows[0]:,} pings over {args.days} days, ready in "
              f"{time.perf_counter() - started:.1f} s  [{load()}]", flush=True)
        limit = args.memory_limit or quarter_of_memory()
        print(f"duckdb {duckdb.__version__}, engine memory limit {limit} (its buffers "
              f"{buffer_limit(limit)})", flush=True)
        runner = open_runner("duckdb", threads=args.threads, memory_limit=limit)
        try:
            run(runner, source, args.days, f"duckdb ({args.threads} threads)")
        finally:
            runner.close()
        if not args.skip_spark:
            if args.spark_pings:
                source = generated(root / "spark-lake", args.spark_pings, args.days)
            runner = open_runner("spark", spark_master="local[2]", spark_conf={
                "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
                "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
                "spark.driver.memory": "4g", "spark.sql.shuffle.partitions": "8"})
            try:
                run(runner, source, args.days,
                    f"spark local[2] ({args.spark_pings or args.pings:,} pings)",
                    full=not args.skip_spark_full)
            finally:
                runner.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
