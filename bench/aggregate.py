"""Aggregation benchmark (`make bench-aggregate`): figures for docs/performance.md.

Generates a population of usage pings *inside* each database (generate_series on
PostgreSQL, a recursive CTE on SQLite; no row goes through Python): about one
million clients, Zipf-distributed over 50 projects, versions, platforms and
features, over 90 days.  Then times, on each store:
- a full aggregation of the 90 days (every public table, day + ISO week + month),
- a one-day incremental aggregation (a 91st day of pings, the last of a month: the
  day is aggregated, merged into its week and month rollups, and those recounted),
- like for like with the reference: our computation of the daily
  active-installations table alone (public_active_installs, interval day, total and
  the five breakdowns as published, suppressed; from the pings, without the JSON
  metrics, the other tables or intervals), in a transaction rolled back afterwards,
and, as the reference, DuckDB computing the daily active-installations table
(total and the five breakdowns, unsuppressed) from the same pings exported to
Parquet.

Usage: python bench/aggregate.py [--pings 10000000] [--sqlite-pings N] [--skip-sqlite]
                               [--skip-postgresql] [--daily-only] [--profile]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from sqlalchemy import event, text

from sempervirens.aggregate._sql import dialect_of
from sempervirens.aggregate.public import daily_active_installs
from sempervirens.aggregate.run import Config, aggregate_public
from sempervirens.store import open_stores

# The 91st day, added for the incremental run, is 2026-03-31: the last day of a
# month, when the merge and recount cover the biggest month rollup.
FIRST_DAY = date(2025, 12, 31)
ROUNDS = 3  # the like-for-like timings (PostgreSQL, DuckDB) are the median of this many runs
DAYS = 90
CLIENTS = 1_000_000
PROJECTS = 50
CONFIG = Config(k=10, enrich=False)


def _columns(d: str, day: str) -> str:
    """The SELECT list of one generated ping, from integers i (ping) and c (client).

    Zipf-like draws use exp(u * ln(n + 1)) - 1 (log-uniform): rank r is drawn with
    probability about 1/r.  Everything a client reports (project, OS, ...) is a hash
    of c, so it is the same in each of its pings.
    """
    pg = d == "postgresql"
    u = (lambda salt: f"((CAST(c AS BIGINT) * {salt}) % 1000003) / 1000003.0")  # uniform [0, 1)
    zipf = (lambda salt, n: f"CAST(floor(exp({u(salt)} * ln({n + 1}))) AS INTEGER) - 1")
    hexa = (lambda x, w: f"lpad(to_hex({x}), {w}, '0')") if pg else (
        lambda x, w: f"printf('%0{w}x', {x})")
    cat = "||"
    client = f"{hexa('c', 8)} {cat} '-0000-4000-8000-' {cat} {hexa('c', 12)}"
    document = f"{hexa('i', 8)} {cat} '-0000-4000-9000-' {cat} {hexa('c', 12)}"
    obj = "jsonb_build_object" if pg else "json_object"
    metrics = (f"{obj}('counters', {obj}('f' {cat} CAST({zipf(7919, 40)} AS TEXT), 1 + i % 5, "
               f"'core.load', 1), 'labeled_counters', {obj}('io.read', "
               f"{obj}('fmt' {cat} CAST({zipf(104729, 12)} AS TEXT), 1 + i % 3)), "
               f"'timings', {obj}('solve', {obj}('count', 1, 'sum_us', 1000, 'buckets', "
               f"{obj}(CAST(30 + i % 17 AS TEXT), 1))))")
    is_ci = f"({u(31)} < 0.1)" if pg else f"CASE WHEN {u(31)} < 0.1 THEN 1 ELSE 0 END"
    return (f"{document}, 'project' {cat} CAST({zipf(48271, PROJECTS)} AS TEXT), 'usage', "
            f"{client}, {day}, "
            f"'1.' {cat} CAST({zipf(16807, 20)} AS TEXT), "
            f"CASE WHEN {u(69621)} < 0.6 THEN 'Linux' WHEN {u(69621)} < 0.85 THEN 'Darwin' "
            f"ELSE 'Windows' END, "
            f"CASE WHEN {u(40692)} < 0.8 THEN 'x86_64' ELSE 'arm64' END, "
            f"'3.' {cat} CAST(8 + {zipf(39373, 6)} AS TEXT) {cat} '.1', {is_ci}, {metrics}")


_INSERT = ("INSERT INTO pings (document_id, project, ping_type, client_id, day, project_version, "
           "os, arch, python_version, is_ci, metrics, received_at) ")


def generate(engine, pings: int, first_ping: int, days: int, start: date) -> None:
    """`pings` pings spread over `days` days from `start`, made by the database itself.

    In the order they would arrive: day by day (so a day's rows lie together, as in
    a real store).
    """
    d = engine.dialect.name
    # c: clients drawn with a skew (some report far more than others), over CLIENTS.
    if d == "postgresql":
        sql = (f"{_INSERT} SELECT {_columns(d, 'day')}, day::timestamp AT TIME ZONE 'UTC' "
               f"FROM (SELECT i, 1 + CAST(power(random(), 2) * {CLIENTS} AS INTEGER) AS c, "
               f"(DATE '{start}' + CAST((CAST(i - {first_ping} AS BIGINT) * {days}) / {pings} AS INTEGER)) AS day "
               f"FROM generate_series({first_ping}, {first_ping + pings - 1}) AS i) g")
    else:
        sql = (f"{_INSERT} WITH RECURSIVE s(i) AS (SELECT {first_ping} UNION ALL "
               f"SELECT i + 1 FROM s WHERE i < {first_ping + pings - 1}) "
               f"SELECT {_columns(d, 'day')}, day || ' 12:00:00.000000' FROM ("
               f"SELECT i, 1 + CAST((abs(random()) % 1000000) / 1000000.0 * "
               f"(abs(random()) % 1000000) / 1000000.0 * {CLIENTS} AS INTEGER) AS c, "
               f"date('{start}', '+' || (((i - {first_ping}) * {days}) / {pings}) || ' days') AS day "
               f"FROM s) g")
    with engine.begin() as connection:
        connection.execute(text(sql))
    settle(engine, "pings")


def settle(engine, table: str = "") -> None:
    """PostgreSQL: vacuum and analyze `table` (default: all), then a checkpoint, as
    autovacuum and the checkpointer would have done by the next cycle of serve, so
    that a timed step does not share the cores with them catching up on the step
    before it (the pages that a full run dirtied).  SQLite, which
    has no autovacuum (and serve runs no ANALYZE): analyze `table` only."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.exec_driver_sql(f"VACUUM ANALYZE {table}")
            autocommit.exec_driver_sql("CHECKPOINT")
    elif table:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"ANALYZE {table}")


_statements: Counter | None = None  # --profile: seconds per statement of the step timed


def profile(engine) -> None:
    """Time each statement of `engine`, for timed() to list where a step went."""
    @event.listens_for(engine, "before_cursor_execute")
    def started(conn, cursor, statement, parameters, context, executemany):
        conn.info["statement_started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def ended(conn, cursor, statement, parameters, context, executemany):
        _statements[" ".join(statement.split())[:100]] += (
            time.perf_counter() - conn.info["statement_started"])


def timed(label: str, function, *args):
    if _statements is not None:
        _statements.clear()
    start = time.perf_counter()
    result = function(*args)
    seconds = time.perf_counter() - start
    print(f"  {label:48} {seconds:8.1f} s", flush=True)
    if _statements is not None:
        for statement, spent in _statements.most_common(8):
            print(f"      {spent:7.2f} s  {statement}")
    return seconds, result


def bench_store(name: str, stores, pings: int, parquet: Path | None, rounds: int,
                daily_only: bool) -> dict:
    print(f"{name}: {pings:,} pings, {DAYS} days; load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    results = {}
    if _statements is not None:
        profile(stores.telemetry)
    results["generate"], _ = timed("generate (SQL inside the database)", generate,
                                   stores.telemetry, pings, 0, DAYS, FIRST_DAY)
    if not daily_only:
        results.update(pipeline(stores, pings))
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    settle(stores.telemetry)
    runs = [daily_installs(stores.telemetry, FIRST_DAY, last + timedelta(days=2))
            for _ in range(rounds)]
    results["daily_installs"] = statistics.median(seconds for seconds, _ in runs)
    print(f"  {'daily active installs only (' + str(DAYS + 1) + ' days)':48} "
          f"{results['daily_installs']:8.1f} s  (median of "
          f"{', '.join(f'{seconds:.1f}' for seconds, _ in runs)}; {runs[0][1]:,} rows as "
          "published)", flush=True)
    if parquet is not None:
        export(stores.telemetry, parquet)
    return results


def pipeline(stores, pings: int) -> dict:
    """The full run, then the one-day incremental run and a rerun.

    As in serve: the full run happens on day 91 (days 1-90 are over), day 91's
    pings arrive during that day, and the next day's cycle merges the finished day.
    """
    results, per_day = {}, pings // DAYS
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    results["full"], _ = timed(f"full aggregation ({DAYS} days, every table)", aggregate_public,
                               stores.telemetry, CONFIG, last + timedelta(days=1))
    # serve's next cycle comes a day later, when autovacuum has long caught up.
    timed("vacuum and analyze (not counted)", settle, stores.telemetry)
    timed(f"add day {DAYS + 1} ({per_day:,} pings)", generate, stores.telemetry, per_day, pings,
          1, last + timedelta(days=1))
    results["incremental"], days = timed("incremental aggregation (day 91, the month's last)",
                                         aggregate_public, stores.telemetry, CONFIG,
                                         last + timedelta(days=2))
    assert len(days) == 1, days
    results["rerun"], days = timed("rerun (nothing new)", aggregate_public, stores.telemetry,
                                   CONFIG, last + timedelta(days=2))
    assert days == []
    return results


def daily_installs(engine, lo: date, hi: date) -> tuple[float, int]:
    """public_active_installs for interval day alone, as the pipeline computes it.

    In a transaction rolled back afterwards (the published rows stay as they were),
    into the empty table that a full run finds: emptying it is not timed (the
    reference has no table to empty).  PostgreSQL truncates it: a DELETE would leave
    the old rows' index entries, which the insert of each same key visits (0.6-0.9 s
    at 10M pings: the cost of redoing days, not of a full run).
    """
    with engine.connect() as connection:
        transaction = connection.begin()
        d = dialect_of(connection)
        connection.execute(text(f"{'TRUNCATE' if d.pg else 'DELETE FROM'} public_active_installs"))
        start = time.perf_counter()
        daily_active_installs(connection, d, lo, hi, CONFIG.k)
        seconds = time.perf_counter() - start
        rows = connection.execute(text(
            "SELECT count(*) FROM public_active_installs WHERE \"interval\" = 'day'")).scalar()
        transaction.rollback()
    return seconds, rows


def export(engine, parquet: Path) -> None:
    """The pings' aggregation columns, to Parquet for DuckDB (through CSV: PostgreSQL's
    COPY, then DuckDB's own reader and writer)."""
    import duckdb

    columns = "project, client_id, day, project_version, os, arch, python_version, is_ci"
    start = time.perf_counter()
    csv = parquet.with_suffix(".csv")
    connection = engine.raw_connection()
    try:
        with connection.cursor() as cursor, open(csv, "wb") as out, cursor.copy(
                f"COPY (SELECT {columns} FROM pings) TO STDOUT WITH (FORMAT csv)") as copy:
            out.writelines(copy)
    finally:
        connection.close()
    types = {"project": "VARCHAR", "client_id": "VARCHAR", "day": "DATE",
             "project_version": "VARCHAR", "os": "VARCHAR", "arch": "VARCHAR",
             "python_version": "VARCHAR", "is_ci": "BOOLEAN"}
    converter = duckdb.connect()
    converter.execute("SET enable_progress_bar = false")
    converter.execute(
        f"COPY (SELECT * FROM read_csv('{csv}', header = false, columns = {types})) "
        f"TO '{parquet}' (FORMAT parquet)")
    csv.unlink()
    print(f"  {'export to Parquet (not timed against)':48} {time.perf_counter() - start:8.1f} s")


DUCKDB_DAILY = """
    WITH clients AS (
        SELECT project, day, client_id, max(project_version) AS version, max(os) AS os,
               max(arch) AS arch, max(regexp_extract(python_version, '^[0-9]+\\.[0-9]+')) AS python,
               CAST(bool_or(is_ci) AS VARCHAR) AS ci
        FROM read_parquet(?) GROUP BY project, day, client_id)
    SELECT project, day, '' AS breakdown, '' AS value, count(*) FROM clients GROUP BY ALL
    UNION ALL SELECT project, day, 'version', version, count(*) FROM clients GROUP BY ALL
    UNION ALL SELECT project, day, 'os', os, count(*) FROM clients GROUP BY ALL
    UNION ALL SELECT project, day, 'arch', arch, count(*) FROM clients GROUP BY ALL
    UNION ALL SELECT project, day, 'python', python, count(*) FROM clients GROUP BY ALL
    UNION ALL SELECT project, day, 'ci', ci, count(*) FROM clients GROUP BY ALL
"""


def bench_duckdb(parquet: Path) -> float:
    import duckdb

    connection = duckdb.connect()
    connection.execute("SET enable_progress_bar = false")
    runs = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        rows = connection.execute(DUCKDB_DAILY, [str(parquet)]).fetchall()
        runs.append(time.perf_counter() - start)
    seconds = statistics.median(runs)
    print(f"  {'DuckDB: daily active installs from Parquet':48} {seconds:8.1f} s  (median of "
          f"{', '.join(f'{r:.1f}' for r in runs)}; {len(rows):,} rows, {duckdb.__version__})")
    return seconds


def server_settings() -> dict[str, str]:
    """PostgreSQL sized for the machine as an operator would (its docs: shared_buffers
    about a quarter of the RAM); the test fixture keeps the 128 MB default."""
    ram_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    return {"shared_buffers": f"{ram_mb // 4}MB"}


def bench_postgresql(work: Path, args) -> None:
    from _services.postgres import start_cluster

    parquet = work / "pings.parquet"
    settings = server_settings()
    cluster = start_cluster(settings=settings)
    print(f"PostgreSQL settings: {settings} (and fsync off, as in the tests)")
    try:
        stores = open_stores(work / "pg", cluster.create_database("telemetry"),
                             cluster.create_database("private"))
        pg = bench_store("PostgreSQL", stores, args.pings, parquet, ROUNDS, args.daily_only)
        stores.dispose()
        reference = bench_duckdb(parquet)
        print(f"PostgreSQL vs DuckDB (daily active installs, {reference:.1f} s):\n"
              f"  same table (daily active installs): {pg['daily_installs']:6.1f} s = "
              f"{pg['daily_installs'] / reference:.1f}x", flush=True)
        if "full" in pg:
            print(f"  full pipeline (every table, 3 intervals): {pg['full']:6.1f} s = "
                  f"{pg['full'] / reference:.1f}x\n"
                  f"  incremental day: {pg['incremental']:.1f} s", flush=True)
    finally:
        cluster.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pings", type=int, default=10_000_000)
    parser.add_argument("--sqlite-pings", type=int, default=None,
                        help="pings for SQLite (default: --pings)")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgresql", action="store_true")
    parser.add_argument("--daily-only", action="store_true",
                        help="only the like-for-like daily active installs and the reference")
    parser.add_argument("--profile", action="store_true",
                        help="under each timed step, the statements that took longest")
    args = parser.parse_args()
    if args.profile:
        global _statements
        _statements = Counter()
    work = Path(tempfile.mkdtemp(prefix="sempervirens-bench-"))
    if not args.skip_postgresql:
        bench_postgresql(work, args)
    if not args.skip_sqlite:
        stores = open_stores(work / "sqlite")
        lite = bench_store("SQLite", stores, args.sqlite_pings or args.pings, None, 1,
                           args.daily_only)
        print(f"SQLite: daily active installs {lite['daily_installs']:.1f} s" + (
              f", full pipeline {lite['full']:.1f} s, incremental day "
              f"{lite['incremental']:.1f} s" if "full" in lite else ""))
        stores.dispose()
    shutil.rmtree(work, ignore_errors=True)
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; "
          f"load average at the end {os.getloadavg()[0]:.2f}, {os.getloadavg()[1]:.2f}, "
          f"{os.getloadavg()[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
