"""Dataset releases: per period, CSV and Parquet files of the public tables, with checksums.

`sempervirens release` writes, for each complete week and month, a directory
`<interval>-<period start>/` in the releases directory holding, for each public
table, the rows of that period (the period's own rows and the daily rows inside
it) as `<table>.csv` and `<table>.parquet`, the privacy parameters in force,
`SHA256SUMS` and `manifest.json`.  The server lists them at /datasets and serves
only the files a manifest names, so no request path can reach another file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import BigInteger, Date, Float, Integer

from ..model.periods import period_end
from . import queries

RELEASE_INTERVALS = ("week", "month")
RELEASE_NAME = re.compile(r"^(week|month)-\d{4}-\d{2}-\d{2}$")
FILE_NAME = re.compile(r"^[a-z_]+\.(csv|parquet)$|^SHA256SUMS$|^manifest\.json$")


def releases_dir(settings: dict) -> Path:
    return Path(settings.get("releases_dir") or Path(settings["data_dir"]) / "releases")


def release(engine, directory: Path, intervals=RELEASE_INTERVALS) -> list[str]:
    """Write every complete period's release that is new or changed; returns their names."""
    through = queries.aggregated_through(engine)
    if through is None:
        return []
    parameters = queries.parameters(engine)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for interval in intervals:
        for start in queries.periods(engine, interval):
            end = period_end(interval, start) - timedelta(days=1)  # its last day
            if end > through:
                continue  # still provisional: released once it is over
            name = f"{interval}-{start.isoformat()}"
            tables = _period_rows(engine, interval, start, end)
            if _write_release(directory / name, name, interval, start, end, tables, parameters):
                written.append(name)
    return written


def _period_rows(engine, interval: str, start: date, end: date) -> dict[str, list[dict]]:
    tables = {}
    for name, table in queries.period_tables().items():
        rows = queries.release_rows(engine, table, interval, start)
        day = start
        while day <= end:  # the daily rows inside the period
            rows += queries.release_rows(engine, table, "day", day)
            day += timedelta(days=1)
        tables[name] = rows
    return tables


def _write_release(target: Path, name: str, interval: str, start: date, end: date,
                   tables: dict[str, list[dict]], parameters: dict) -> bool:
    content = {"tables": tables, "parameters": parameters}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()
    manifest_path = target / "manifest.json"
    if manifest_path.exists():
        try:
            if json.loads(manifest_path.read_text())["content_sha256"] == digest:
                return False  # unchanged since the last release
        except (ValueError, KeyError):
            pass
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        files = []
        for table_name, rows in tables.items():
            columns = [c.name for c in queries.TABLES[table_name].columns]
            _write_csv(staging / f"{table_name}.csv", rows, columns)
            _write_parquet(staging / f"{table_name}.parquet", rows, queries.TABLES[table_name])
            files += [f"{table_name}.csv", f"{table_name}.parquet"]
        param_rows = [{"name": k, **v} for k, v in sorted(parameters.items())]
        _write_csv(staging / "public_parameters.csv", param_rows, ["name", "value", "description"])
        files.append("public_parameters.csv")
        sums = {f: _sha256(staging / f) for f in files}
        (staging / "SHA256SUMS").write_text("".join(f"{h}  {f}\n" for f, h in sums.items()))
        manifest = {"name": name, "interval": interval, "period_start": start.isoformat(),
                    "period_end": end.isoformat(), "k": parameters.get("k", {}).get("value"),
                    "released_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "content_sha256": digest,
                    "files": [{"name": f, "sha256": h, "bytes": (staging / f).stat().st_size}
                              for f, h in sums.items()]}
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        for path in staging.iterdir():
            os.chmod(path, 0o644)
        os.chmod(staging, 0o755)
        old = target.with_name(f".{name}.old")
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
        return True
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    from ._respond import to_csv

    path.write_bytes(to_csv(rows, columns))


def _write_parquet(path: Path, rows: list[dict], table) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    fields = []
    for column in table.columns:
        if isinstance(column.type, (BigInteger, Integer)):
            kind = pa.int64()
        elif isinstance(column.type, Float):
            kind = pa.float64()
        elif isinstance(column.type, Date):
            kind = pa.date32()
        else:
            kind = pa.string()
        fields.append(pa.field(column.name, kind, nullable=column.nullable))
    schema = pa.schema(fields)
    data = {f.name: [_parquet_value(r[f.name], f.type) for r in rows] for f in schema}
    pq.write_table(pa.table(data, schema=schema), path)


def _parquet_value(value, kind):
    import pyarrow as pa

    if kind == pa.date32() and isinstance(value, str):
        return date.fromisoformat(value)
    return value


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def list_releases(directory: Path) -> list[dict]:
    """The manifests of the releases, newest period first."""
    found = []
    if not directory.is_dir():
        return found
    for entry in directory.iterdir():
        if RELEASE_NAME.match(entry.name) and (entry / "manifest.json").is_file():
            try:
                found.append(json.loads((entry / "manifest.json").read_text()))
            except ValueError:
                continue
    return sorted(found, key=lambda m: (m["period_start"], m["interval"]), reverse=True)


def release_file(directory: Path, name: str, filename: str) -> Path | None:
    """The path of a file of a release, if the release's manifest names it; else None."""
    if not RELEASE_NAME.match(name) or not FILE_NAME.match(filename):
        return None
    folder = directory / name
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    listed = {f["name"] for f in manifest.get("files", [])} | {"SHA256SUMS", "manifest.json"}
    path = (folder / filename).resolve()
    if filename not in listed or path.parent != folder.resolve() or not path.is_file():
        return None
    return path
