"""Writes small lakes as the lake writer does (model/lake.py): Parquet files in Hive
`day=YYYY-MM-DD` directories, one per table and day, rows sorted by project.

A test describes pings as dicts (`ping(...)`), with their counters and timings; the
helper splits them into the three tables and returns the engine's `source`.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sempervirens.model.lake import (BOOL, COUNTERS, INT32, INT64, LAKE_TABLES, PARTITION,
                                     PINGS, STRING, TIMESTAMP, TIMINGS)
from sempervirens.model.limits import MAX_BUCKET, MAX_COUNT

ARROW = {STRING: pa.string(), INT32: pa.int32(), INT64: pa.int64(), BOOL: pa.bool_(),
         TIMESTAMP: pa.timestamp("us", tz="UTC")}
_ids = itertools.count()


def ping(project: str, client_id: str | None, day: date, *, ping_type: str = "usage",
         counters=(), timings=(), **fields) -> dict:
    """One ping of `day`: pings columns in `fields` (project_version, os, crash_type…),
    counters as (metric, label, value), timings as (metric, bucket, count)."""
    unknown = set(fields) - set(PINGS.column_names)
    assert not unknown, f"not a pings column: {unknown}"
    return {"document_id": f"doc-{next(_ids)}", "project": project, "client_id": client_id,
            "ping_type": ping_type, "day": day,
            "received_at": datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc),
            "counters": list(counters), "timings": list(timings), **fields}


def usage(project, client_id, day, **kw) -> dict:
    kw.setdefault("project_version", "1.0.0")
    kw.setdefault("os", "Linux")
    kw.setdefault("arch", "x86_64")
    kw.setdefault("python_version", "3.12.1")
    kw.setdefault("is_ci", False)
    return ping(project, client_id, day, **kw)


def _rows(pings: list[dict]) -> dict[str, list[dict]]:
    tables = {t.name: [] for t in LAKE_TABLES}
    key = ("document_id", "project", "client_id", "ping_type", "day")
    for p in pings:
        tables["pings"].append({c: p.get(c) for c in (*PINGS.column_names, "day")})
        base = {c: p[c] for c in key}
        for metric, label, value in p["counters"]:
            tables["counters"].append({**base, "metric": metric, "label": label, "value": value})
        for metric, bucket, count in p["timings"]:
            tables["timings"].append({**base, "metric": metric, "bucket": bucket, "count": count})
    return tables


def write_lake(root: Path, pings: list[dict]) -> dict[str, list[str]]:
    """Write the pings' lake under `root`; returns {table: [parquet paths]}."""
    source = {}
    by_table = _rows(pings)
    for table in LAKE_TABLES:
        schema = pa.schema([(c, ARROW[t]) for c, t in table.columns])
        rows = by_table[table.name]
        source[table.name] = []
        for day in sorted({r["day"] for r in rows}):
            chosen = sorted((r for r in rows if r["day"] == day), key=lambda r: r["project"])
            directory = root / table.name / f"{PARTITION}={day.isoformat()}"
            directory.mkdir(parents=True, exist_ok=True)
            columns = {c: [r[c] for r in chosen] for c in table.column_names}
            path = directory / "part-0.parquet"
            pq.write_table(pa.table(columns, schema=schema), path)
            source[table.name].append(str(path))
    return source


assert {COUNTERS.name, TIMINGS.name, PINGS.name} == {t.name for t in LAKE_TABLES}


# A random lake, made from a seed: the odd values every field may hold, the
# declared and undeclared metrics, labels, timings and crash kinds, exclusions.
RANDOM_DECLARATIONS = {
    "alpha": (("counter", "io.read", ""), ("counter", "io.write", ""),
              ("labeled_counter", "io.format", "csv"), ("labeled_counter", "io.format", "fits"),
              ("timing", "solve", ""), ("timing", "load", ""),
              ("crash", "ValueError", ""), ("crash", "alpha.Error", ""),
              ("version", "1.0", ""), ("version", "1.1", ""), ("version", "2.0", "")),
    "beta": (("counter", "run", ""), ("labeled_counter", "device", "cpu"),
             ("labeled_counter", "device", "gpu"), ("timing", "fit", ""),
             ("crash", "KeyError", "")),
    "gamma": (),
}
_VERSIONS = ("1.0.0", "1.0.3", "1.1.0", "2.0.1", "2.1.0", "10.2.1", "0.9rc1", "dev", "", None,
             "01.0", "99999999999999999999.1", " 1.0", "1.0 ")
# Letters whose lower case is not alike in every engine: 'İ' (DuckDB: 'i'; Python and
# Java: 'i' and a combining dot), the Kelvin sign (Python and Java: 'k'), final sigma.
_OSES = ("Linux", "linux", "Darwin", "macOS", "Windows", "FreeBSD", "Haiku", "", None,
         "L\u0130NUX", "DARW\u0130N", "WINDOWS\u03a3")
_ARCHES = ("x86_64", "AMD64", "aarch64", "arm64", "i686", "ppc64le", "riscv64", "mips", None)
_PYTHONS = ("3.9.1", "3.10.14", "3.11.9", "3.12.4", "3.13.0", "3.5.2", "3.17.0", "2.7.18",
            "pypy", None, "3.010", "03.10", "3.12 ")
_METRICS = {"alpha": ("io.read", "io.write", "io.format", "solve", "load", "other.thing"),
            "beta": ("run", "device", "fit", "io.read"), "gamma": ("io.read", "x")}
_SCHEDULERS = ("slurm", "SLURM", "pbs", "torque", "none", "", None)
_CI_PROVIDERS = ("github-actions", "gitlab", "other", "none", "hudson", None,
                 "JEN\u212aINS", "BUILD\u212aITE")
_LABELS = ("", "", "csv", "fits", "xlsx", "cpu", "gpu", "tpu")
_CRASHES = ("ValueError", "KeyError", "alpha.Error", "MemoryError", None)
# Timing buckets and counts at the protocol's limits, and lake rows past them (a damaged
# lake: the engine reads only buckets 0..MAX_BUCKET): 2 ** (252 // 4) is past a BIGINT.
_ODD_BUCKETS = {56: MAX_BUCKET, 57: MAX_BUCKET + 52, 58: -1, 59: None}
_ODD_COUNTS = {9: MAX_COUNT}


def _bucket(b):
    return _ODD_BUCKETS.get(b, b)


def _count(n):
    return _ODD_COUNTS.get(n, n)


def random_declared() -> list[tuple[str, str, str, str]]:
    return [(project, *row) for project, rows in RANDOM_DECLARATIONS.items() for row in rows]


def _installations(rng, clients: int) -> list[tuple[str, str]]:
    """(project, client_id) of `clients` installations, each of a random declared project."""
    return [(rng.choice(list(RANDOM_DECLARATIONS)), f"client-{i:04d}") for i in range(clients)]


def random_pings(seed: int, days: list[date], clients: int = 60, pings: int = 3000) -> list[dict]:
    import random

    rng = random.Random(seed)
    population = _installations(rng, clients)
    made = []
    for _ in range(pings):
        project, client = rng.choice(population)
        day = rng.choice(days)
        roll = rng.random()
        common = {"project_version": rng.choice(_VERSIONS)}
        if roll < 0.05:
            made.append(ping(project, None, day, ping_type="opt-out"))
        elif roll < 0.15:
            made.append(ping(project, client, day, ping_type="crash",
                             crash_type=rng.choice(_CRASHES), **common))
        else:
            counters = {(rng.choice(_METRICS[project]), rng.choice(_LABELS)):
                        rng.choice((0, 1, 2, 3, 5, 8, 40, MAX_COUNT))
                        for _ in range(rng.randint(0, 6))}
            timings = {(rng.choice(_METRICS[project]), _bucket(rng.randint(0, 60))):
                       _count(rng.randint(0, 9))
                       for _ in range(rng.randint(0, 5))}
            made.append(ping(project, client, day, **common,
                             os=rng.choice(_OSES), arch=rng.choice(_ARCHES),
                             python_version=rng.choice(_PYTHONS),
                             is_ci=rng.choice((True, False, None)),
                             scheduler=rng.choice(_SCHEDULERS),
                             ci_provider=rng.choice(_CI_PROVIDERS),
                             counters=[(*k, v) for k, v in counters.items()],
                             timings=[(*k, v) for k, v in timings.items()]))
    return made


# Origins as the private store gives them: (institution, kind, edu) of an address.
_ORIGINS = (("Stanford University", "academic", True), ("University of Oxford", "academic", False),
            ("small-college.edu", "academic", True), ("example-corp.com", "other", False),
            ("example.edu", "other", True), (None, "unknown", False))


def random_origins(seed: int, days: list[date], clients: int = 30,
                   rows: int = 400) -> list[tuple]:
    """(project, day, client_id, kind, institution, edu) rows: installations seen from
    several origins and on several days (a few rows twice: the engine counts distinct)."""
    import random

    rng = random.Random(seed)
    population = _installations(rng, clients)
    made = []
    for _ in range(rows):
        project, client = rng.choice(population)
        institution, kind, edu = rng.choice(_ORIGINS)
        made.append((project, rng.choice(days), client, kind, institution, edu))
    return made
