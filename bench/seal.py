"""Lake benchmark: sealing a generated population, day by day (figures for docs/lake.md).

The population is generated inside the database (generate_series on PostgreSQL, a
recursive CTE on SQLite; no row goes through Python): about a million clients,
Zipf-distributed over 50 projects, versions, platforms and features, a labeled counter
and a timing per ping, made within the hour before it arrived; by default 110,000
pings a day, the daily volume of 10 million pings over 90 days.  Times, on each
store: sealing (seconds per day, bytes per day), verifying the checksums, deleting
10 clients from the lake (a rewrite of the days they touched), and pruning the
hot store; prints the peak memory of the process.

Usage: python bench/seal.py [--per-day 110000] [--days 5] [--skip-sqlite] [--skip-postgresql]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "bench")]

from sqlalchemy import text  # noqa: E402

from sempervirens.store import open_stores  # noqa: E402
from sempervirens.store.lake import Lake, delete_clients, prune, seal  # noqa: E402


FIRST_DAY = date(2025, 12, 31)
CLIENTS = 1_000_000
PROJECTS = 50


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
           "os, arch, python_version, is_ci, metrics, received_at, period_start, period_end) ")


def generate(engine, pings: int, first_ping: int, days: int, start: date) -> None:
    """`pings` pings spread over `days` days from `start`, made by the database itself.

    In the order they would arrive: day by day (so a day's rows lie together, as in
    a real store).
    """
    d = engine.dialect.name
    # c: clients drawn with a skew (some report far more than others), over CLIENTS.
    if d == "postgresql":
        sql = (f"{_INSERT} SELECT {_columns(d, 'day')}, "
               f"(day + TIME '12:00')::timestamp AT TIME ZONE 'UTC', "
               f"(day + TIME '11:00')::timestamp AT TIME ZONE 'UTC', "
               f"(day + TIME '11:59')::timestamp AT TIME ZONE 'UTC' "
               f"FROM (SELECT i, 1 + CAST(power(random(), 2) * {CLIENTS} AS INTEGER) AS c, "
               f"(DATE '{start}' + CAST((CAST(i - {first_ping} AS BIGINT) * {days}) / {pings} AS INTEGER)) AS day "
               f"FROM generate_series({first_ping}, {first_ping + pings - 1}) AS i) g")
    else:
        sql = (f"{_INSERT} WITH RECURSIVE s(i) AS (SELECT {first_ping} UNION ALL "
               f"SELECT i + 1 FROM s WHERE i < {first_ping + pings - 1}) "
               f"SELECT {_columns(d, 'day')}, day || ' 12:00:00.000000', "
               f"day || ' 11:00:00.000000', day || ' 11:59:00.000000' FROM ("
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


def bench(name: str, stores, per_day: int, days: int, directory: Path) -> None:
    print(f"{name}: {per_day:,} pings a day, {days} days; load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    start = time.perf_counter()
    generate(stores.telemetry, per_day * days, 0, days, FIRST_DAY)
    print(f"  generate                      {time.perf_counter() - start:8.1f} s", flush=True)
    settle(stores.telemetry)
    lake = Lake(directory / f"lake-{name}")
    now = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=timezone.utc)
    per_day_seconds = []
    for offset in range(days):
        day = FIRST_DAY + timedelta(days=offset)
        start, cpu = time.perf_counter(), time.process_time()
        report = seal(stores.telemetry, lake, now=now + timedelta(days=offset + 1, hours=3), through=day)
        seconds = time.perf_counter() - start
        per_day_seconds.append(seconds)
        print(f"  seal {day}              {seconds:8.2f} s  (CPU of this process "
              f"{time.process_time() - cpu:.2f} s)  {report.rows.get('pings', 0):,} pings, "
              f"{report.rows.get('counters', 0):,} counter rows, {report.rows.get('timings', 0):,} "
              f"timing rows, {report.bytes / 1e6:.1f} MB", flush=True)
    print(f"  seal, median per day          {sorted(per_day_seconds)[len(per_day_seconds) // 2]:8.2f} s")
    start = time.perf_counter()
    problems = lake.verify()
    print(f"  verify ({days} days)              {time.perf_counter() - start:8.2f} s  "
          f"{len(problems)} problem(s)")
    with stores.telemetry.connect() as connection:
        clients = connection.execute(text("SELECT DISTINCT client_id FROM pings WHERE day = :d LIMIT 10"),
                                     {"d": FIRST_DAY}).scalars().all()
    start, cpu = time.perf_counter(), time.process_time()
    deleted = delete_clients(lake, clients)
    print(f"  delete 10 clients             {time.perf_counter() - start:8.2f} s  "
          f"(CPU {time.process_time() - cpu:.2f} s)  "
          f"{len(deleted.days)} day(s) rewritten, {deleted.files} files, {deleted.rows}")
    start = time.perf_counter()
    pruned = prune(stores.telemetry, lake, now=now + timedelta(days=days + 1), margin_days=0)
    print(f"  prune {days} days                {time.perf_counter() - start:8.2f} s  "
          f"{pruned.deleted:,} pings deleted from the hot store")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS of this process      {peak:8.0f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-day", type=int, default=110_000)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgresql", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sempervirens-bench-seal-") as directory:
        directory = Path(directory)
        if not args.skip_sqlite:
            stores = open_stores(directory / "sqlite")
            try:
                bench("sqlite", stores, args.per_day, args.days, directory)
            finally:
                stores.dispose()
        if not args.skip_postgresql:
            from _services.postgres import start_cluster

            cluster = start_cluster()
            try:
                stores = open_stores(directory / "pg", cluster.create_database("telemetry"),
                                     cluster.create_database("private"))
                try:
                    bench("postgresql", stores, args.per_day, args.days, directory)
                finally:
                    stores.dispose()
            finally:
                cluster.stop()


if __name__ == "__main__":
    main()
