"""The user's decisions, kept per user in `consent.json`: they always win.

Two questions, each answered globally and per project with `granted`, `denied` or
nothing: may usage be collected, and may crash reports be sent.  The order of
precedence, first match wins:

1. DO_NOT_TRACK or SEMPERVIRENS_OPT_OUT in the environment: denied.
2. A consent file that exists but cannot be read or parsed: denied (it may hold
   a refusal we can no longer see).
3. The user's decision for this project, then the user's global decision.
4. The project's default: "opt-out" collects (after a one-time notice), "opt-in"
   does not.
"""

from __future__ import annotations

import os
import time

from . import _config, _files, _wire

FILENAME = "consent.json"
GRANTED, DENIED = "granted", "denied"
MODES = ("opt-out", "opt-in")
QUESTIONS = ("usage", "crash")


_STRICTNESS = {None: 0, GRANTED: 1, DENIED: 2}


class ConsentUnreadable(Exception):
    """consent.json exists but cannot be used."""


def _path(data_dir: str) -> str:
    return os.path.join(data_dir, FILENAME)


def load(data_dir: str) -> dict:
    try:
        store = _files.read_json(_path(data_dir), {})
    except (OSError, ValueError) as error:
        raise ConsentUnreadable(str(error)) from None
    # A file with the wrong shapes may hold a refusal we cannot read: nothing is collected.
    for question in QUESTIONS:
        section = store.setdefault(question, {"global": None, "projects": {}})
        if not isinstance(section, dict):
            raise ConsentUnreadable(f"{question!r} is not an object")
        projects = section.setdefault("projects", {})
        answers = [section.setdefault("global", None)]
        if not isinstance(projects, dict):
            raise ConsentUnreadable(f"{question}.projects is not an object")
        answers += projects.values()
        if any(a not in (GRANTED, DENIED, None) for a in answers):
            raise ConsentUnreadable(f"{question}: an answer is not 'granted' or 'denied'")
        # Keyed as the server keys projects; of two spellings of one, a refusal wins.
        keyed: dict = {}
        for name, answer in projects.items():
            key = _wire.project_key(name)
            if _STRICTNESS[answer] >= _STRICTNESS[keyed.get(key)]:
                keyed[key] = answer
        section["projects"] = keyed
    if not isinstance(store.setdefault("notices", {}), dict):
        raise ConsentUnreadable("'notices' is not an object")
    return store


def decision(store: dict, question: str, project: str) -> str | None:
    """The user's own answer for this project (project first, then global), or None."""
    section = store[question]
    answer = section["projects"].get(_wire.project_key(project))
    if answer in (GRANTED, DENIED):
        return answer
    answer = section.get("global")
    return answer if answer in (GRANTED, DENIED) else None


def usage_allowed(data_dir: str | None, project: str, mode: str, environ=None) -> tuple[bool, str]:
    """(collect?, why) for usage data of `project` whose default is `mode`."""
    refusing = _config.denied_by_environment(environ)
    if refusing:
        return False, f"{refusing} is set"
    if data_dir is None:
        return False, "no data directory"
    try:
        store = load(data_dir)
    except ConsentUnreadable:
        return False, "consent file unreadable"
    answer = decision(store, "usage", project)
    if answer == GRANTED:
        return True, "granted by you"
    if answer == DENIED:
        return False, "denied by you"
    if mode == "opt-in":
        return False, "the project asks first (opt-in) and you have not opted in"
    return True, "the project's default (opt-out)"


def crash_allowed(data_dir: str, project: str) -> str | None:
    """The standing answer about crash reports: granted, denied or None (ask)."""
    try:
        return decision(load(data_dir), "crash", project)
    except ConsentUnreadable:
        return DENIED


def update(data_dir: str, question: str, project: str | None, answer: str | None) -> None:
    """Record a decision; `project=None` is the global one and clears per-project answers."""
    with _files.FileLock(_path(data_dir) + ".lock"):
        try:
            store = load(data_dir)
        except ConsentUnreadable:
            store = load_fresh()  # the user is deciding anew: replace the broken file
        section = store[question]
        if project is None:
            section["global"] = answer
            section["projects"] = {}
        elif answer is None:
            section["projects"].pop(_wire.project_key(project), None)
        else:
            section["projects"][_wire.project_key(project)] = answer
        _files.write_json(_path(data_dir), store)


def load_fresh() -> dict:
    return {q: {"global": None, "projects": {}} for q in QUESTIONS} | {"notices": {}}


def claim_notice(data_dir: str, project: str) -> bool:
    """True exactly once per user and project: the caller then shows the notice.

    False also when the mark cannot be stored: a notice we cannot remember showing
    would be shown on every run, so such a user is not collected from at all.
    """
    try:
        with _files.FileLock(_path(data_dir) + ".lock", timeout=0.2):
            store = load(data_dir)
            if project in store["notices"]:
                return False
            now = time.time()
            # Which run showed it: that run's pings wait until it has ended (_uploader).
            store["notices"][project] = {
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                "at_epoch": now,
                "pid": os.getpid(),
                "host": host_id(),
            }
            _files.write_json(_path(data_dir), store)
            return True
    except (OSError, ConsentUnreadable, TimeoutError):
        return False


def host_id() -> str:
    """This machine since its last boot, so that a process id means the same process.

    A home shared over NFS by many nodes holds notices of processes of other
    machines; kept in the user's own consent file only, never sent.
    """
    try:
        with open("/proc/sys/kernel/random/boot_id", "rb") as f:
            boot = f.read(64).decode("ascii", "replace").strip()
    except OSError:
        boot = ""
    node = os.uname().nodename if hasattr(os, "uname") else os.environ.get("COMPUTERNAME", "")
    return f"{node}/{boot}"


def notice_shown(data_dir: str, project: str) -> bool:
    try:
        return project in load(data_dir)["notices"]
    except ConsentUnreadable:
        return False
