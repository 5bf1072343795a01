"""Pings written straight into a real store, and the lake read back as a reader would."""

from __future__ import annotations

import json
import random
import uuid
from datetime import date, datetime, timedelta, timezone

import duckdb
from sqlalchemy import insert, select

from sempervirens.store.schema import pings

DAY = date(2026, 11, 30)
PROJECTS = ("numpy", "astropy", "scipy")
# Metrics that put a row in each of the lake's metric tables.
IN_EVERY_TABLE = {"counters": {"feature.f1": 3},
                  "timings": {"solve": {"count": 1, "sum_us": 9, "buckets": {"12": 1}}}}


def new_id() -> str:
    return str(uuid.uuid4())


def ping_row(day: date, *, client_id: str | None = None, project: str = "numpy",
             ping_type: str = "usage", seconds: int = 3600, rng: random.Random | None = None,
             **overrides) -> dict:
    rng = rng or random.Random(0)  # the same row every run: a test never depends on luck
    at = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(seconds=seconds,
                                                                         microseconds=rng.randrange(10**6))
    row = {column.name: None for column in pings.columns}  # a field added later: NULL
    row |= {
        "document_id": new_id(), "project": project, "ping_type": ping_type,
        "client_id": None if ping_type == "opt-out" else (client_id or new_id()),
        "received_at": at, "day": day, "project_version": f"1.{rng.randrange(5)}",
        "library_name": "sempervirens-python", "library_version": "0.1.0",
        "period_start": at - timedelta(hours=1), "period_end": at,
        "os": rng.choice(["Linux", "Darwin", None]), "os_version": "6.1", "arch": "x86_64",
        "python_implementation": "CPython", "python_version": "3.11.7",
        "cpu_count": rng.randrange(1, 65), "memory_total": 16_000_000_000 + rng.randrange(10**6),
        "is_ci": rng.choice([True, False, None]), "platform_tag": "manylinux_2_36_x86_64",
        "scheduler": rng.choice(["slurm", "none", None]), "container": rng.choice(["docker", None]),
        "notebook": "none", "install_method": rng.choice(["conda", "pip-venv"]),
        "ci_provider": rng.choice(["gitlab", "other", None]),
        "metrics": None, "crash_type": None, "crash_traceback": None,
        "dropped": {"spool_full": rng.randrange(3)} if rng.random() < 0.3 else None,
    }
    if ping_type in ("usage", "crash"):
        row["metrics"] = {
            "counters": {f"feature.f{i}": rng.randrange(0, 2**53 - 1 if i == 0 else 100)
                         for i in range(rng.randrange(0, 4))},
            "labeled_counters": {"io.read": {label: rng.randrange(1, 9) for label in
                                             rng.sample(["csv", "parquet", "hdf5", "x-y.z"], rng.randrange(0, 4))}},
            "timings": {"solve": {"count": 4, "sum_us": 5000, "buckets": {"39": 3, "40": 1, "2": 0}},
                        "io.load": {"count": 1, "sum_us": 1, "buckets": {"0": 1}}},
            "memory": {"peak_rss_bytes": rng.randrange(10**6, 10**10)},
        }
    if ping_type == "crash":
        row["crash_type"] = "ValueError"
        row["crash_traceback"] = 'Traceback (most recent call last):\n  File "x.py"\nValueError: é'
    if ping_type == "deletion-request":
        row["project_version"] = None
    row.update(overrides)
    return row


def add_pings(engine, rows: list[dict]) -> list[dict]:
    with engine.begin() as connection:
        connection.execute(insert(pings), rows)
    return rows


def population(engine, days: list[date], per_day: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for day in days:
        for i in range(per_day):
            kind = rng.choices(["usage", "crash", "opt-out", "deletion-request"], [80, 8, 8, 4])[0]
            rows.append(ping_row(day, project=rng.choice(PROJECTS), ping_type=kind,
                                 seconds=rng.randrange(86400), rng=rng))
    return add_pings(engine, rows)


def store_rows(engine, day: date | None = None) -> list[dict]:
    query = select(pings)
    if day is not None:
        query = query.where(pings.c.day == day)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def read_lake(lake, table: str) -> list[dict]:
    """As the engine reads it: DuckDB, read_parquet over lake.files(), Hive partitions."""
    files = lake.files(table)
    if not files:
        return []
    with duckdb.connect() as db:
        db.execute("SET TimeZone = 'UTC'")
        if files[0].startswith("memory://"):  # fsspec's in-memory filesystem
            import fsspec

            db.register_filesystem(fsspec.filesystem("memory"))
        relation = db.sql(f"SELECT * FROM read_parquet({files!r}, hive_partitioning = true)")
        return relation.to_arrow_table().to_pylist()


def expected_tables(rows: list[dict]) -> dict[str, list[dict]]:
    """The lake's three tables computed from store rows in plain Python."""
    out = {"pings": [], "counters": [], "timings": []}
    for row in rows:
        if row["ping_type"] == "deletion-request":
            continue
        key = {k: row[k] for k in ("document_id", "project", "client_id", "ping_type")}
        metrics = row["metrics"] or {}
        ping = {k: v for k, v in row.items() if k not in ("metrics", "day")}
        ping.update(key, day=row["day"], peak_rss_bytes=metrics.get("memory", {}).get("peak_rss_bytes"))
        for name in ("received_at", "period_start", "period_end"):
            if ping[name] is not None and ping[name].tzinfo is None:
                ping[name] = ping[name].replace(tzinfo=timezone.utc)
        ping["dropped"] = None if row["dropped"] is None else row["dropped"]
        out["pings"].append(ping)
        for metric, value in metrics.get("counters", {}).items():
            out["counters"].append({**key, "day": row["day"], "metric": metric, "label": "", "value": value})
        for metric, labels in metrics.get("labeled_counters", {}).items():
            for label, value in labels.items():
                out["counters"].append({**key, "day": row["day"], "metric": metric, "label": label,
                                        "value": value})
        for metric, timing in metrics.get("timings", {}).items():
            for bucket, count in timing["buckets"].items():
                if count:
                    out["timings"].append({**key, "day": row["day"], "metric": metric,
                                           "bucket": int(bucket), "count": count})
    return out


def normalise(rows: list[dict]) -> list[tuple]:
    """Comparable rows: JSON text parsed, sorted."""
    result = []
    for row in rows:
        row = dict(row)
        if isinstance(row.get("dropped"), str):
            row["dropped"] = json.loads(row["dropped"])
        if isinstance(row.get("day"), str):
            row["day"] = date.fromisoformat(row["day"])
        for name, value in row.items():
            if isinstance(value, datetime):
                row[name] = value.astimezone(timezone.utc).replace(tzinfo=timezone.utc)
        result.append(tuple(sorted((k, repr(v)) for k, v in row.items())))
    return sorted(result)
