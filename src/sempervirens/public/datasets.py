"""Serving the dataset files the releases wrote (release/datasets.py): never writing them.

    <releases_dir>/<project>/<interval>-<period_start>-v<version>/{statistics.csv,
        statistics.parquet, README.md, manifest.json}

Only the files a manifest names are served, so no request path can reach another file,
and none of a release made without differential privacy (no_dp: its manifest's epsilon
is null; release.tables.servable for the ledger).
"""

from __future__ import annotations

import itertools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..model.periods import INTERVALS
from ._latest import Latest

PROJECT_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
RELEASE_NAME = re.compile(rf"^({'|'.join(INTERVALS)})-\d{{4}}-\d{{2}}-\d{{2}}-v\d+$")
FILE_NAME = re.compile(r"^statistics\.(csv|parquet)$|^README\.md$|^manifest\.json$")


def releases_dir(settings: dict) -> Path:
    return Path(settings["releases_dir"])


@dataclass(frozen=True)
class Listing:
    generation: int  # a new one each time the directory is read again
    releases: list[dict]  # shared between requests: read, never change


def listing(directory: Path) -> Listing:
    """The manifests of every release, newest period first, each with its path name.

    Read once per state of the directory, not per request: reading every manifest cost
    /datasets and each /datasets/latest link about 2 s of CPU for ten projects' three
    years of days.  A release is renamed into its project's directory and never changed
    (release/datasets.py), so the directories' modification times tell when to read
    again."""
    return _listing.get(_state(directory), lambda: Listing(next(_generations), _read(directory)))


def list_releases(directory: Path) -> list[dict]:
    return listing(directory).releases


_listing: Latest[Listing] = Latest()
_generations = itertools.count(1)


def _state(directory: Path) -> tuple:
    """(directory, its and each project directory's modification time)."""
    try:
        projects = sorted((entry.name, entry.stat().st_mtime_ns)
                          for entry in os.scandir(directory) if entry.is_dir())
        return str(directory), directory.stat().st_mtime_ns, tuple(projects)
    except OSError:
        return str(directory), None, ()


def _read(directory: Path) -> list[dict]:
    found = []
    if not directory.is_dir():
        return found
    for manifest in directory.glob("*/*/manifest.json"):
        project, name = manifest.parent.parent.name, manifest.parent.name
        if not (PROJECT_NAME.match(project) and RELEASE_NAME.match(name)):
            continue
        try:
            read = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue
        if _servable(read):
            found.append({**read, "path": f"{project}/{name}"})
    return sorted(found, key=lambda m: (m["period_start"], m["interval"], m["project"],
                                        m["version"]), reverse=True)


def release_file(directory: Path, project: str, name: str, filename: str) -> Path | None:
    """The path of a file of a release, if its manifest names it; else None."""
    if not (PROJECT_NAME.match(project) and RELEASE_NAME.match(name)
            and FILE_NAME.match(filename)):
        return None
    folder = directory / project / name
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if not _servable(manifest):
        return None
    listed = set(manifest.get("files", {})) | {"manifest.json"}
    path = (folder / filename).resolve()
    if filename not in listed or path.parent != folder.resolve() or not path.is_file():
        return None
    return path


def _servable(manifest) -> bool:
    """A release made with differential privacy (a no_dp one's epsilon is null)."""
    return isinstance(manifest, dict) and isinstance(manifest.get("epsilon"), (int, float))


def by_period(releases: list[dict]) -> dict[str, list[dict]]:
    """{interval: [{period_start, releases, epsilon}]}, newest period first: one row per
    released period, with every project's release of it."""
    kinds: dict[str, dict[str, dict]] = {"month": {}, "week": {}, "day": {}}
    for release in releases:
        period = kinds.setdefault(release["interval"], {}).setdefault(
            release["period_start"], {"period_start": release["period_start"], "releases": [],
                                      "epsilon": 0.0})
        period["releases"].append(release)
        period["epsilon"] = max(period["epsilon"], release.get("epsilon") or 0.0)
    return {kind: sorted(periods.values(), key=lambda p: p["period_start"], reverse=True)
            for kind, periods in kinds.items()}


def latest(releases: list[dict], project: str, interval: str) -> dict | None:
    """The newest release of a project's periods of one interval (highest version)."""
    mine = [r for r in releases if r["project"] == project and r["interval"] == interval]
    return max(mine, key=lambda r: (r["period_start"], r["version"]), default=None)
