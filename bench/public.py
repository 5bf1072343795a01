"""Public pages benchmark: server-side render time of each page and API route.

Builds a telemetry store holding a year of released statistics for one project (every
day, ISO week and month: release rows written the way release/publish.py writes them,
with their ledger rows and the same keys, noise SD and intervals; the numbers are
random, since only their volume matters here), then times each page and API route
through the ASGI application in-process (Starlette's TestClient: routing, queries,
templates, JSON/CSV, the security middleware; no network), and prints the median and
p95 over N requests, and the median CPU time of the process per request (the server's
own work, which the load of a shared machine does not inflate as it does the wall
time), with the load average beside them.

Usage: python bench/public.py [--requests 30] [--days 365]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src")]

from sempervirens.model.periods import period_start  # noqa: E402

PROJECT = "astroflux"
# One release's keys, about what a real project releases: (statistic, key1, key2).
KEYS = (
    [("installs", "", "")]
    + [("installs", "version", v) for v in ("1.0", "1.1", "1.2", "2.0", "(other)", "(unknown)")]
    + [("installs", "os", v) for v in ("linux", "macos", "windows", "bsd", "(other)", "(unknown)")]
    + [("installs", "arch", v) for v in ("x86_64", "arm64", "x86", "ppc64le", "s390x", "riscv64",
                                         "(other)", "(unknown)")]
    + [("installs", "python", f"3.{m}") for m in range(6, 17)]
    + [("installs", "python", v) for v in ("(other)", "(unknown)")]
    + [("installs", "ci", v) for v in ("true", "false", "(unknown)")]
    + [(s, f"feature.{i}", label) for s in ("feature_users", "feature_events") for i in range(8)
       for label in ("", "csv", "hdf5")]
    + [("timing_percentile", f"timing.{i}", p) for i in range(4) for p in ("p50", "p90", "p99")]
    + [(s, kind, version) for s in ("crash_users", "crash_events")
       for kind in ("ValueError", "MemoryError", "(other)") for version in ("1.2", "2.0")]
    + [("opt_outs", "", "")]
)


def build(data_dir: Path, days: int) -> date:
    """A store with `days` released days before today, and their complete weeks and months."""
    from sqlalchemy import insert

    from sempervirens.release.tables import public_releases, public_statistics
    from sempervirens.store import open_stores

    stores = open_stores(str(data_dir), None, None, migrate=True)
    rng = random.Random(1)
    today = datetime.now(timezone.utc).date()
    first = today - timedelta(days=days)
    periods = {(interval, period_start(interval, first + timedelta(days=i)))
               for interval in ("day", "week", "month") for i in range(days)}
    from sempervirens.model.periods import period_end

    periods = sorted(p for p in periods if p[1] >= first and period_end(*p) <= today)
    now = datetime.now(timezone.utc)
    with stores.telemetry.begin() as connection:
        for release_id, (interval, start) in enumerate(periods, start=1):
            connection.execute(insert(public_releases).values(
                release_id=release_id, project=PROJECT, interval=interval, period_start=start,
                version=1, released_at=now, epsilon=0.5, delta=0.0, mechanism="benchmark",
                bounds={}, statistics={}))
            scale = {"day": 1, "week": 4, "month": 12}[interval]
            rows = []
            for statistic, key1, key2 in KEYS:
                value = int(rng.gauss(300, 200) * scale) if statistic != "timing_percentile" \
                    else rng.randint(8, 20)
                shown = value if value >= 10 else None
                rows.append({"release_id": release_id, "project": PROJECT, "interval": interval,
                             "period_start": start, "statistic": statistic, "key1": key1,
                             "key2": key2, "value": shown, "noise_sd": 4.0 * scale,
                             "low": max(0, value - 8 * scale) if shown is not None else 0,
                             "high": value + 8 * scale if shown is not None else 9 + 8 * scale,
                             "noisy": value})
            connection.execute(insert(public_statistics), rows)
            # Its dataset directory, as /datasets lists it (the manifest is what it reads).
            folder = data_dir / "releases" / PROJECT / f"{interval}-{start.isoformat()}-v1"
            folder.mkdir(parents=True)
            (folder / "manifest.json").write_text(json.dumps({
                "project": PROJECT, "interval": interval, "period_start": start.isoformat(),
                "version": 1, "epsilon": 0.5, "delta": 0.0, "release_id": release_id,
                "files": {"statistics.csv": "0" * 64}}))
    stores.dispose()
    return today - timedelta(days=1)


ROUTES = (
    ("page /", "/"),
    ("page /projects/p", f"/projects/{PROJECT}"),
    ("page /projects/p (weekly, by OS, a year)", f"/projects/{PROJECT}?interval=week&breakdown=os"),
    ("page /ecosystem", "/ecosystem"),
    ("page /privacy", "/privacy"),
    ("page /datasets", "/datasets"),
    ("page /projects/p/catalogue", f"/projects/{PROJECT}/catalogue"),
    ("page 404", "/no-such-page"),
    ("api projects", "/api/v1/projects"),
    ("api active-installs day, a year", f"/api/v1/projects/{PROJECT}/active-installs"),
    ("api active-installs week by python", f"/api/v1/projects/{PROJECT}/active-installs?interval=week&breakdown=python"),
    ("api features week", f"/api/v1/projects/{PROJECT}/features?interval=week"),
    ("api timings day", f"/api/v1/projects/{PROJECT}/timings"),
    ("api crashes month", f"/api/v1/projects/{PROJECT}/crashes?interval=month"),
    ("api opt-outs day (csv)", f"/api/v1/projects/{PROJECT}/opt-outs?format=csv"),
    ("api ecosystem week python", "/api/v1/ecosystem?interval=week&breakdown=python"),
    ("api ecosystem day os", "/api/v1/ecosystem?interval=day&breakdown=os"),
    ("api parameters", "/api/v1/parameters"),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30, help="requests per route")
    parser.add_argument("--days", type=int, default=365, help="days of released history")
    args = parser.parse_args()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Starlette's notice about httpx in TestClient
        from starlette.testclient import TestClient

    from sempervirens.server.app import create_app

    with tempfile.TemporaryDirectory(prefix="sempervirens-bench-public-") as directory:
        data_dir = Path(directory)
        start = time.perf_counter()
        build(data_dir, args.days)
        print(f"store: {args.days} released days of {PROJECT} with their weeks and months, "
              f"{len(KEYS)} rows each, built in {time.perf_counter() - start:.1f} s, with a dataset manifest per release")
        app = create_app({"data_dir": str(data_dir), "aggregate_interval_seconds": 0,
                          "log_level": "warning"})
        worst = worst_cpu = 0.0
        with TestClient(app) as client:
            print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
                  f"{args.requests} requests per route, in-process (no network)")
            print(f"  {'route':44} {'median':>9} {'p95':>9} {'CPU':>9} {'bytes':>9}")
            for name, path in ROUTES:
                answer = client.get(path)  # warm: templates compiled, caches filled
                assert answer.status_code in (200, 404), (path, answer.status_code)
                times, cpu = [], []
                for _ in range(args.requests):
                    begin, begin_cpu = time.perf_counter(), time.process_time()
                    answer = client.get(path)
                    times.append(time.perf_counter() - begin)
                    cpu.append(time.process_time() - begin_cpu)
                times.sort()
                p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
                worst = max(worst, p95)
                worst_cpu = max(worst_cpu, statistics.median(cpu))
                print(f"  {name:44} {1000 * statistics.median(times):7.1f} ms "
                      f"{1000 * p95:7.1f} ms {1000 * statistics.median(cpu):7.1f} ms "
                      f"{len(answer.content):9,}")
        print(f"worst p95: {1000 * worst:.1f} ms, worst median CPU {1000 * worst_cpu:.1f} ms "
              f"(target: 200 ms); load average "
              f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
