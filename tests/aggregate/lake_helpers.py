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

ARROW = {STRING: pa.string(), INT32: pa.int32(), INT64: pa.int64(), BOOL: pa.bool_(),
         TIMESTAMP: pa.timestamp("us", tz="UTC")}
_ids = itertools.count()


def ping(project: str, client_id: str | None, day: date, *, ping_type: str = "usage",
         excluded: bool = False, counters=(), timings=(), **fields) -> dict:
    """One ping of `day`: pings columns in `fields` (project_version, os, crash_type…),
    counters as (metric, label, value), timings as (metric, bucket, count)."""
    unknown = set(fields) - set(PINGS.column_names)
    assert not unknown, f"not a pings column: {unknown}"
    return {"document_id": f"doc-{next(_ids)}", "project": project, "client_id": client_id,
            "ping_type": ping_type, "excluded": excluded, "day": day,
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
    key = ("document_id", "project", "client_id", "ping_type", "excluded", "day")
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
