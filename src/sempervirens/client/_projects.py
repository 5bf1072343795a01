"""The projects that have collected from this user, so the CLI can name them.

`projects.json` maps each project to its endpoint, version and consent mode, as
last seen: `status` lists them, `opt-out --all` and `forget` know where to send
their opt-out and deletion-request pings.
"""

from __future__ import annotations

import os

from . import _files, _wire

FILENAME = "projects.json"


def load(data_dir: str) -> dict:
    try:
        projects = _files.read_json(os.path.join(data_dir, FILENAME), {})
    except (OSError, ValueError):
        return {}
    return {
        _wire.project_key(k): v
        for k, v in projects.items()
        if isinstance(v, dict) and isinstance(v.get("endpoint"), str)
    }


def remember(data_dir: str, project: str, endpoint: str, version: str, mode: str) -> None:
    path = os.path.join(data_dir, FILENAME)
    entry = {"endpoint": endpoint, "version": version, "mode": mode}
    if load(data_dir).get(project) == entry:
        return  # the usual case: nothing to write, no lock to queue for
    try:
        with _files.FileLock(path + ".lock", timeout=0.2):
            projects = load(data_dir)
            if projects.get(project) != entry:
                projects[project] = entry
                _files.write_json(path, projects)
    except TimeoutError:
        pass  # many processes at once: one of them writes it, or the next period does
