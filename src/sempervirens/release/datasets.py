"""Dataset files of a release: immutable, one directory per period and version.

    <releases_dir>/<project>/<interval>-<period_start>-v<version>/
        statistics.csv       the released rows (value empty when below k)
        statistics.parquet   the same rows
        README.md            what the numbers are and how exact, in plain words
        manifest.json        release id, epsilon and delta spent, sha256 of each file

A directory is written once, under a temporary name and renamed into place; an
existing one is never rewritten (DatasetExists).  The `noisy` column is not in the
files: a value below k is published as empty.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import tempfile
from datetime import timezone
from pathlib import Path

from sqlalchemy import select

from .errors import DatasetExists

COLUMNS = ("project", "interval", "period_start", "statistic", "key1", "key2", "value",
           "noise_sd", "low", "high", "release_id")
_SAFE = str.maketrans({c: "_" for c in '/\\:*?"<>|\0'})


def directory_name(release) -> str:
    return f"{release.interval}-{release.period_start.isoformat()}-v{release.version}"


def path_of(releases_dir: Path, release) -> Path:
    return Path(releases_dir) / release.project.translate(_SAFE) / directory_name(release)


def published_versions(releases_dir: Path, project: str, interval: str, start) -> list[int]:
    """The versions of a period whose dataset directory is in releases_dir."""
    prefix = f"{interval}-{start.isoformat()}-v"
    parent = Path(releases_dir) / project.translate(_SAFE)
    return sorted(int(path.name[len(prefix):]) for path in parent.glob(prefix + "*")
                  if path.name[len(prefix):].isdigit())


def write_release(releases_dir: Path, release, k: int) -> Path:
    """Write one release's files; refuse (DatasetExists) if its directory exists."""
    target = path_of(releases_dir, release)
    if target.exists():
        raise DatasetExists(f"{target} exists: a released dataset is never rewritten")
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = [{c: row.get(c) for c in COLUMNS} for row in release.rows]
    rows.sort(key=lambda r: (r["statistic"], r["key1"], r["key2"]))
    staging = Path(tempfile.mkdtemp(prefix=".writing-", dir=target.parent))
    _write_csv(staging / "statistics.csv", rows)
    _write_parquet(staging / "statistics.parquet", rows)
    (staging / "README.md").write_text(readme(release, k))
    manifest = {
        "project": release.project, "interval": release.interval,
        "period_start": release.period_start.isoformat(), "version": release.version,
        "release_id": release.release_id, "released_at": release.released_at.isoformat(),
        "epsilon": release.epsilon if release.epsilon != float("inf") else None,
        "delta": release.delta, "correction_of": release.correction_of,
        "bounds": release.bounds, "statistics": release.statistics,
        "files": {name: _sha256(staging / name)
                  for name in ("statistics.csv", "statistics.parquet", "README.md")},
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    for path in staging.iterdir():
        path.chmod(0o444)
    staging.chmod(0o555)  # readable by the web server, writable by no one
    try:
        os.rename(staging, target)  # fails if target appeared meanwhile (non-empty)
    except OSError as error:
        raise DatasetExists(f"{target} exists: a released dataset is never rewritten") from error
    return target


def _write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: "" if row[c] is None else row[c] for c in COLUMNS})


def _write_parquet(path: Path, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("project", pa.string()), ("interval", pa.string()),
                        ("period_start", pa.date32()), ("statistic", pa.string()),
                        ("key1", pa.string()), ("key2", pa.string()), ("value", pa.int64()),
                        ("noise_sd", pa.float64()), ("low", pa.int64()), ("high", pa.int64()),
                        ("release_id", pa.int64())])
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, path)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def readme(release, k: int) -> str:
    epsilon = ("none: this deployment runs without differential privacy (no_dp) and must not "
               "publish these files" if release.epsilon == float("inf") else
               f"epsilon = {release.epsilon:.6g}, delta = {release.delta:.3g}")
    correction = (f"\nThis is version {release.version}, a correction of release "
                  f"{release.correction_of}; it spent its own privacy budget.\n"
                  if release.correction_of else "")
    title = (f"{release.project}: {release.interval} from {release.period_start.isoformat()}, "
             f"version {release.version}")
    return f"""# {title}

Usage statistics of {release.project}, released once by Sempervirens after the period
ended ({release.released_at.isoformat()}). Every number is a count of installations (or
of events) with random noise added, so that it says almost nothing about any single
installation: differential privacy, {epsilon} for this release.
{correction}
## How to read the numbers

- `statistic`, `key1`, `key2`: what is counted, and for which key (see the project's
  public catalogue page for each statistic's meaning).
- `value`: the noisy count. Empty when the noisy count is below {k}: small numbers
  are not shown, but the row is always there.
- `noise_sd`: the standard deviation of the noise in `value`.
- `low`, `high`: a 95% interval for the true count.
- Weekly and monthly event counts are the sums of the released days.
- `timing_percentile` rows: the bucket (one per doubling of the duration) that holds
  the 50th, 90th or 99th percentile, from the noisy histogram; `low`/`high` bound it.

## How it was made

Each installation's contribution is bounded (see `bounds` in manifest.json), the
counts are computed exactly, and noise is drawn by the OpenDP library (discrete
Laplace). The budget of each statistic is in manifest.json (`statistics`). Versions
without a declared list are published only when their noisy count passes a threshold
(partition selection). These files never change; a correction is a new version.
"""


def write_missing(engine, releases_dir: Path, k: int) -> list[Path]:
    """Write the files of every release of the ledger that has none, and remove the
    staging directories a failed write left.  The files are written after the release's
    commit: a full disk, a read-only directory or a crash in between would otherwise
    leave a released period without its dataset for good.  Run under the cycle's lock."""
    from .publish import Release
    from .tables import public_releases, public_statistics

    root = Path(releases_dir)
    for staging in root.glob("*/.writing-*"):
        staging.chmod(0o755)  # made read-only once complete
        shutil.rmtree(staging, ignore_errors=True)
    r, s = public_releases.c, public_statistics.c
    written = []
    with engine.connect() as connection:
        missing = [row.release_id for row in connection.execute(
            select(r.release_id, r.project, r.interval, r.period_start, r.version))
            if not path_of(root, row).exists()]
        for release_id in sorted(missing):
            entry = connection.execute(select(public_releases).where(
                r.release_id == release_id)).mappings().one()
            release = Release(**{name: entry[name] for name in Release.__dataclass_fields__
                                 if name != "rows"})
            if release.released_at.tzinfo is None:  # SQLite keeps naive UTC times
                release.released_at = release.released_at.replace(tzinfo=timezone.utc)
            release.rows = [dict(row) for row in connection.execute(
                select(s.release_id, s.project, s.interval, s.period_start, s.statistic, s.key1,
                       s.key2, s.value, s.noise_sd, s.low, s.high)
                .where(s.release_id == release.release_id)).mappings()]
            written.append(write_release(root, release, k))
    return written
