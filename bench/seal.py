"""Lake benchmark: sealing a generated population, day by day (figures for docs/lake.md).

The population is bench/aggregate.py's (generated inside the database, Zipf over
50 projects, features, a labeled counter and a timing per ping), by default 110,000
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
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "bench")]

from aggregate import FIRST_DAY, generate, settle  # noqa: E402  (bench/aggregate.py)
from sqlalchemy import text  # noqa: E402

from sempervirens.store import open_stores  # noqa: E402
from sempervirens.store.lake import Lake, delete_clients, prune, seal  # noqa: E402


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
