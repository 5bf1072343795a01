"""What each collection server said of its privacy policy, and its notice to the user.

Every 2xx answer carries the policy version in force, the latest version that
changed it materially and the latest security notice (`_wire.POLICY_*`).  They
are kept per endpoint in `policy.json`.  The first answer of an endpoint is
recorded silently: the first-run notice covered the policy then in force.  After
that, a newer material version or a newer security notice is pending until one
run of any project sending there shows it, once per user (the mark is claimed
under a lock, as the first-run notice's is).  Until then, and while the run that
showed it is still running, usage and crash pings to that endpoint wait in the
spool: the user has time to say no.
"""

from __future__ import annotations

import os
import time

from . import _consent, _files

FILENAME = "policy.json"
HOLD_AFTER_NOTICE = 3600.0  # seconds; as the first-run notice's hold


def _path(data_dir: str) -> str:
    return os.path.join(data_dir, FILENAME)


def load(data_dir: str) -> dict:
    """{endpoint: entry}; entries that are not what we wrote are ignored."""
    try:
        store = _files.read_json(_path(data_dir), {})
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in store.items() if isinstance(v, dict)}


def _number(entry: dict, key: str) -> int:
    value = entry.get(key)
    return value if type(value) is int else 0


def pending(entry: dict | None) -> dict:
    """What the user has not been shown yet: {"material": M} and/or {"security": S}."""
    if not entry:
        return {}
    news = {}
    for key in ("material", "security"):
        if _number(entry, key) > _number(entry, "shown_" + key):
            news[key] = _number(entry, key)
    return news


def record(data_dir: str, endpoint: str, policy: tuple) -> None:
    """Keep what a 2xx answer of `endpoint` said (policy version, material, security)."""
    version, material, security = (tuple(policy) + (None, None, None))[:3]
    if version is None:
        return
    with _files.FileLock(_path(data_dir) + ".lock", timeout=0.5):
        store = load(data_dir)
        entry = store.get(endpoint)
        if entry is None:
            # First seen: silently, as already shown.
            entry = {"shown_material": material or 0, "shown_security": security or 0}
        updated = dict(entry, version=version)
        for key, value in (("material", material), ("security", security)):
            if value is not None:
                updated[key] = max(value, _number(entry, key))
        if updated != store.get(endpoint):
            store[endpoint] = updated
            _files.write_json(_path(data_dir), store)


def claim(data_dir: str, endpoint: str) -> dict:
    """What to show now for `endpoint`, exactly once per user ({} when nothing).

    The caller shows it.  Marked as shown before it is shown: a mark that cannot
    be written shows nothing (it would be shown on every run).
    """
    entry = load(data_dir).get(endpoint)
    if not pending(entry):
        return {}  # the usual case: no lock
    try:
        with _files.FileLock(_path(data_dir) + ".lock", timeout=0.2):
            store = load(data_dir)
            entry = store.get(endpoint)
            news = pending(entry)
            if not news:
                return {}
            for key, value in news.items():
                entry["shown_" + key] = value
            now = time.time()
            entry["shown_by"] = {"at_epoch": now, "pid": os.getpid(), "host": _consent.host_id()}
            _files.write_json(_path(data_dir), store)
            return news
    except (OSError, TimeoutError):
        return {}


def holds(data_dir: str, endpoint: str) -> bool:
    """Whether usage and crash pings to `endpoint` wait: a notice not shown, or its run runs."""
    entry = load(data_dir).get(endpoint)
    if entry is None:
        return False
    if pending(entry):
        return True
    return running(entry.get("shown_by"), HOLD_AFTER_NOTICE)


def running(mark: object, max_age: float) -> bool:
    """Whether the process of `mark` ({pid, at_epoch, host}) runs, for `max_age` s at most."""
    if not isinstance(mark, dict):
        return False
    pid, at = mark.get("pid"), mark.get("at_epoch")
    if type(pid) is not int or not isinstance(at, (int, float)):
        return False
    if time.time() - at > max_age or mark.get("host") != _consent.host_id():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # alive, another user's (EPERM)
        return True
    return True


def notice(project: str, endpoint: str, news: dict) -> tuple[str, str]:
    """(plain text, Markdown) of the notice for `news` (from `claim`)."""
    base = endpoint.rstrip("/")
    lines, links = [], []
    if "material" in news:
        url = f"{base}/privacy/policy/v{news['material']}/changes"
        lines.append(
            f"The privacy policy of the statistics {project} sends to {base} has changed "
            f"(version {news['material']}). What changed: {url}"
        )
        links.append(
            f"The privacy policy of the statistics **{project}** sends has changed "
            f"(version {news['material']}): [what changed]({url})."
        )
    if "security" in news:
        url = f"{base}/notices/{news['security']}"
        lines.append(f"A security notice about the server {project} sends its statistics to: {url}")
        links.append(
            f"A security notice about the server **{project}** sends to: [read it]({url})."
        )
    commands = (
        f"`sempervirens opt-out {project}` (or everywhere: `sempervirens opt-out --all`, "
        "or set DO_NOT_TRACK=1)"
    )
    text = "\n".join(lines) + (
        f"\nNothing more is sent until this run has ended. To turn it off: {commands}.\n"
    )
    markdown = "\n\n".join(links) + (
        f"\n\nNothing more is sent until this run has ended. To turn it off: {commands}."
    )
    return text, markdown
