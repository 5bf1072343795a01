"""What a user decides, done the same way from the API and from the CLI.

Opting out deletes the project's pending data and spools one `opt-out` ping without
a client id, but only when collection was on until then (so the server counts real
opt-out events), at most one a project a UTC day and at most one waiting to be sent:
the published count assumes at most two arriving from an installation a day (an opt-out
carries no id the server could bound it by), and a user who opts in and out again is
counted once.  `forget` spools a
`deletion-request` for the old installation id to every project that collected,
clears the spool, then makes a new id.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from . import _consent, _files, _identity, _pings, _projects
from ._spool import Spool

OPT_OUTS = "opt-outs.json"  # {project: the UTC day of its last opt-out ping}


def opt_out(
    data_dir: str, project: str | None, *, crash_only: bool = False, current: dict | None = None
) -> list[str]:
    """Deny usage (or crash reports) for `project`, or globally with None.

    `current` describes a running project not yet in projects.json (endpoint,
    version, mode).  Returns the projects to which an opt-out ping goes.
    """
    if crash_only:
        _consent.update(data_dir, "crash", project, _consent.DENIED)
        return []
    known = _projects.load(data_dir)
    if project is not None and current:
        known[project] = current
    targets = [project] if project is not None else sorted(known)
    was_on = {
        p: p in known and _consent.usage_allowed(data_dir, p, known[p].get("mode", "opt-out"))[0]
        for p in targets
    }
    _consent.update(data_dir, "usage", project, _consent.DENIED)
    spool = Spool(data_dir)
    spool.remove_project(project)
    notified = []
    for p in _first_today(data_dir, [p for p in targets if was_on[p]]):
        # At most one opt-out ping of a project waits in the spool: the server counts a
        # ping on the day it arrives, so pings queued on several days (offline, the server
        # down) would otherwise all land on one day.  With this, a server day receives at
        # most two of one installation (one queued earlier, one queued that day): the
        # release's sensitivity for opt_outs (model/statistics.py).
        for entry in spool.entries():
            if entry.ping_type == "opt-out" and entry.project == p:
                spool.remove(entry)
        body = _pings.opt_out(_pings.clean_version(known[p].get("version")))
        spool.put(known[p]["endpoint"], p, "opt-out", _pings.encode(body))
        notified.append(p)
    return notified


def _first_today(data_dir: str, projects: list[str]) -> list[str]:
    """Those of `projects` sent no opt-out ping yet this UTC day, now marked as sent."""
    if not projects:
        return []
    path = os.path.join(data_dir, OPT_OUTS)
    today = datetime.now(timezone.utc).date().isoformat()
    try:
        with _files.FileLock(path + ".lock"):
            try:
                sent = _files.read_json(path, {})
            except (OSError, ValueError):
                sent = {}
            first = [p for p in projects if sent.get(p) != today]
            if first:
                kept = {p: day for p, day in sent.items() if day == today}  # the file stays small
                kept.update(dict.fromkeys(first, today))
                _files.write_json(path, kept)
    except (OSError, TimeoutError):
        return projects  # the opt-out itself has been recorded; its ping is what may repeat
    return first


def opt_in(data_dir: str, project: str | None, *, crash_only: bool = False) -> None:
    _consent.update(data_dir, "crash" if crash_only else "usage", project, _consent.GRANTED)


def forget(data_dir: str) -> tuple[str | None, str | None, list[str]]:
    """(old id, new id, projects asked to delete) — the old id is never used again."""
    old = _identity.read(data_dir)
    spool = Spool(data_dir)
    spool.remove_project(None)
    asked = []
    if old:
        for project, info in sorted(_projects.load(data_dir).items()):
            spool.put(
                info["endpoint"],
                project,
                "deletion-request",
                _pings.encode(_pings.deletion_request(old)),
            )
            asked.append(project)
    new = _identity.replace(data_dir)
    return old, new, asked
