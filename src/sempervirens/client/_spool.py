"""The on-disk spool: pings wait here until the server has them.

One file per ping, `<created ms>.<document id>.<ping type>.<project>.ping`: the
first line is a JSON header (endpoint, project, ping type, document id), the rest
is the body, exactly the bytes that will be sent.  Files are written atomically
(temporary file, then rename), so a host killed at any instant leaves either a
whole ping or none.  The document id is chosen here and reused on every retry:
the server stores a resend once.

The spool is bounded in pings, bytes and age; what is dropped is counted per
project in `dropped.json` and reported in that project's next usage ping.  A
dropped usage ping also gives back the drops it was carrying, so that each drop
is reported exactly once.  What is named like a ping but cannot be read (a
directory, a file without permission, a FIFO) is moved to `spool/quarantine/`,
counted once as `spool_unreadable`, and never blocks anything again.
"""

from __future__ import annotations

import json
import os
import stat
import time

from . import _files, _identity, _wire

SUFFIX = ".ping"
# Pings that carry a user's request: the last to go when the spool is full.
_REQUESTS = ("opt-out", "deletion-request")
# Many processes on one home (the ranks of a job) may queue for the drop counts.
DROPPED_LOCK_TIMEOUT = 1.0


class Entry:
    __slots__ = ("created_ms", "document_id", "name", "path", "ping_type", "project", "size")

    def __init__(self, directory: str, name: str, size: int) -> None:
        self.path, self.name, self.size = os.path.join(directory, name), name, size
        stamp, self.document_id, self.ping_type, project = name[: -len(SUFFIX)].split(".", 3)
        self.created_ms, self.project = int(stamp), project


class Spool:
    def __init__(self, data_dir: str) -> None:
        self.dir = os.path.join(data_dir, "spool")
        self._dropped_path = os.path.join(self.dir, "dropped.json")

    def ensure(self) -> None:
        os.makedirs(self.dir, mode=0o700, exist_ok=True)

    # -- writing ----------------------------------------------------------------

    def put(
        self,
        endpoint: str,
        project: str,
        ping_type: str,
        body: bytes,
        document_id: str | None = None,
        ca_bundle: str | None = None,
    ) -> Entry:
        self.ensure()
        document_id = document_id or _identity.new_uuid4()
        header = {
            "endpoint": endpoint,
            "project": project,
            "ping_type": ping_type,
            "document_id": document_id,
        }
        if ca_bundle:
            header["ca_bundle"] = ca_bundle  # the trust its project asked for, for every sender
        name = f"{int(time.time() * 1000):013d}.{document_id}.{ping_type}.{project}{SUFFIX}"
        data = json.dumps(header, separators=(",", ":")).encode() + b"\n" + body
        _files.write_atomic(os.path.join(self.dir, name), data)
        return Entry(self.dir, name, len(data))

    # -- reading ----------------------------------------------------------------

    def entries(self) -> list[Entry]:
        """The pending pings, oldest first."""
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            if not name.endswith(SUFFIX):
                continue
            try:
                found.append(Entry(self.dir, name, os.stat(os.path.join(self.dir, name)).st_size))
            except (ValueError, OSError):  # a stray name, or deleted meanwhile
                continue
        found.sort(key=lambda e: e.name)
        return found

    @staticmethod
    def parse(data: bytes) -> tuple[dict, bytes]:
        """(header, body) of a spool file's bytes; ValueError if it is corrupted."""
        head, sep, body = data.partition(b"\n")
        header = json.loads(head)
        if not sep or not isinstance(header, dict) or not body:
            raise ValueError("corrupted spool file")
        for key in ("endpoint", "project", "ping_type", "document_id"):
            if not isinstance(header.get(key), str):
                raise ValueError(f"spool file without {key}")  # noqa: TRY004 - a bad file
        return header, body

    def open_locked(self, entry: Entry) -> int | None:
        """An open, locked descriptor of `entry`'s regular file, or None.

        None when another thread or process holds it (it is sending it), when it
        is gone, or when it cannot be read: then it is quarantined.  Never blocks
        (a FIFO named like a ping would block an ordinary open forever).  Give
        the descriptor back with `close(entry, fd)`.
        """
        try:
            fd = _files.open_locked(entry.path)
        except (FileNotFoundError, BlockingIOError):
            return None
        except OSError:  # no permission, a directory on some systems...
            try:
                os.lstat(entry.path)
            except OSError:
                return None  # gone meanwhile
            self.quarantine(entry)
            return None
        try:
            info = os.fstat(fd)
        except OSError:
            self.close(entry, fd)
            return None
        if not stat.S_ISREG(info.st_mode):
            self.close(entry, fd)
            self.quarantine(entry)
            return None
        if info.st_nlink == 0:  # unlinked after a sibling sent it while we waited
            self.close(entry, fd)
            return None
        return fd

    @staticmethod
    def close(entry: Entry, fd: int) -> None:
        _files.close_locked(entry.path, fd)

    def header(self, entry: Entry) -> dict | None:
        """The header of `entry` (None if gone, locked, corrupted or quarantined)."""
        fd = self.open_locked(entry)
        if fd is None:
            return None
        try:
            try:
                head = os.read(fd, 8192).partition(b"\n")[0]
                header = json.loads(head)
                if not isinstance(header, dict) or not isinstance(header.get("endpoint"), str):
                    raise ValueError("no endpoint")  # noqa: TRY004, TRY301 - a bad file
            except (OSError, ValueError):
                return None  # the sender counts it as corrupted
            return header
        finally:
            self.close(entry, fd)

    def quarantine(self, entry: Entry) -> bool:
        """Move what cannot be read out of the way, counted once; True if moved."""
        target_dir = os.path.join(self.dir, "quarantine")
        try:
            os.makedirs(target_dir, mode=0o700, exist_ok=True)
            with self._dropped_lock():  # moved and counted together
                os.rename(entry.path, os.path.join(target_dir, entry.name))
                if entry.ping_type in ("usage", "crash"):
                    self._change_dropped(
                        lambda dropped: _add_all(dropped, entry.project, {"spool_unreadable": 1})
                    )
        except (OSError, TimeoutError):
            return False  # gone meanwhile (another process moved it), or cannot be moved now
        return True

    def read(self, entry: Entry) -> tuple[dict, bytes] | None:
        """The ping of `entry`, or None (a corrupted file is removed and counted)."""
        fd = self.open_locked(entry)
        if fd is None:
            return None
        try:
            data = _files.read_fd(fd)
            try:
                return self.parse(data)
            except ValueError:
                self.discard(entry, "spool_corrupt", data)
                return None
        finally:
            self.close(entry, fd)

    # -- removing ---------------------------------------------------------------

    def remove(self, entry: Entry) -> bool:
        try:
            os.unlink(entry.path)
            return True
        except FileNotFoundError:
            return False
        except OSError:  # a directory named like a ping, a read-only spool
            return self.quarantine(entry) and False

    def discard(self, entry: Entry, reason: str, data: bytes | None = None) -> bool:
        """Remove a ping that will never be sent, and count it for its project's next ping.

        The drops the ping itself carried (reported by an earlier period) are given
        back, so that they are reported by the next ping instead of vanishing.
        True if this call removed it (each drop is counted by one process only).
        `data` given: the caller holds the entry's lock and read it; otherwise it is
        locked here, and an entry that another thread or process holds (it is
        being sent) is left alone.
        """
        if data is None:
            fd = self.open_locked(entry)
            if fd is None:
                return False
            try:
                return self.discard(entry, reason, _files.read_fd(fd))
            finally:
                self.close(entry, fd)
        if entry.ping_type not in ("usage", "crash"):
            return self.remove(entry)
        carried = _carried_drops(data)
        carried[reason] = carried.get(reason, 0) + 1
        # Removed and counted under one lock: never one without the other.
        try:
            with self._dropped_lock():
                if not self.remove(entry):
                    return False
                self._change_dropped(lambda dropped: _add_all(dropped, entry.project, carried))
        except TimeoutError:
            return False  # kept: the bound is enforced again at the next period
        return True

    def remove_project(self, project: str | None) -> int:
        """Delete the pending usage and crash pings of a project (of all with None)."""
        removed = 0
        key = None if project is None else _wire.project_key(project)
        for entry in self.entries():
            # Pings spooled under another spelling of the project (an older client's) too.
            if entry.ping_type in _REQUESTS or key not in (None, _wire.project_key(entry.project)):
                continue
            removed += self.remove(entry)
        if project is None:
            self._update_dropped(lambda dropped: dropped.clear())
        else:
            self._update_dropped(lambda dropped: dropped.pop(key, None))
        return removed

    def enforce_bounds(self, max_pings: int, max_bytes: int, max_age_s: float) -> None:
        entries = self.entries()
        oldest_allowed = (time.time() - max_age_s) * 1000
        for entry in [e for e in entries if e.created_ms < oldest_allowed]:
            self.discard(entry, "spool_expired")
            entries.remove(entry)
        # Over a bound: drop the oldest usage and crash pings first.
        entries.sort(key=lambda e: (e.ping_type in _REQUESTS, e.name))
        total = sum(e.size for e in entries)
        while entries and (len(entries) > max_pings or total > max_bytes):
            entry = entries.pop(0)
            total -= entry.size
            self.discard(entry, "spool_full")
        self._sweep_temporary()

    def _sweep_temporary(self) -> None:
        # A host killed between write and rename leaves a temporary file.
        try:
            names = os.listdir(self.dir)
        except OSError:
            return
        for name in names:
            if name.endswith(".tmp"):
                path = os.path.join(self.dir, name)
                try:
                    if os.stat(path).st_mtime < time.time() - 3600:
                        os.unlink(path)
                except OSError:
                    pass

    # -- dropped counts ---------------------------------------------------------

    def add_dropped(self, project: str, reason: str, n: int = 1) -> None:
        def add(dropped: dict) -> None:
            reasons = dropped.setdefault(project, {})
            reasons[reason] = reasons.get(reason, 0) + n

        self._update_dropped(add)

    def take_dropped(self, project: str) -> dict:
        """The drops waiting for `project`'s next ping, now taken ({} if busy: they wait)."""
        taken: dict = {}
        try:
            self._update_dropped(lambda dropped: taken.update(dropped.pop(project, None) or {}))
        except TimeoutError:
            return {}
        return taken

    def dropped(self) -> dict:
        try:
            return _files.read_json(self._dropped_path, {})
        except (OSError, ValueError):
            return {}

    def _dropped_lock(self):
        self.ensure()
        return _files.FileLock(self._dropped_path + ".lock", timeout=DROPPED_LOCK_TIMEOUT)

    def _update_dropped(self, change) -> None:
        with self._dropped_lock():
            self._change_dropped(change)

    def _change_dropped(self, change) -> None:
        """With the dropped lock held."""
        dropped = self.dropped()
        before = json.dumps(dropped, sort_keys=True)
        change(dropped)
        dropped = {p: r for p, r in dropped.items() if isinstance(r, dict) and r}
        if json.dumps(dropped, sort_keys=True) != before:
            _files.write_json(self._dropped_path, dropped)


def _carried_drops(data: bytes | None) -> dict:
    """The `dropped` counts inside a spooled usage ping's body ({} if none or unreadable)."""
    if not data:
        return {}
    try:
        body = json.loads(data.partition(b"\n")[2])
        dropped = body.get("dropped") if isinstance(body, dict) else None
    except ValueError:
        return {}
    if not isinstance(dropped, dict):
        return {}
    return {k: v for k, v in dropped.items() if isinstance(k, str) and type(v) is int and v > 0}


def _add_all(dropped: dict, project: str, counts: dict) -> None:
    reasons = dropped.setdefault(project, {})
    if not isinstance(reasons, dict):
        reasons = dropped[project] = {}
    for reason, n in counts.items():
        reasons[reason] = reasons.get(reason, 0) + n
