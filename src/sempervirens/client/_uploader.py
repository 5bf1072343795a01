"""The one background thread that empties the spool, and the rules it obeys.

Started lazily (on a project's first recording, never at import), a daemon so it
never holds the host's exit, restarted in a forked child (pid check).  Each pass
sends every pending ping it may send, oldest first:

- 2xx: stored (a resend of the same document id is stored once): delete it;
- 400, 404, 413, 415 and other 4xx: never acceptable: delete it, count it dropped;
- 429 or 503: pause that endpoint for Retry-After seconds (persisted, so other
  processes of the user pause too), keep it;
- other 5xx, 408, network or TLS failure: keep it, retry after an exponential
  backoff with jitter.
"""

from __future__ import annotations

import math
import os
import threading
import time

from . import _config, _consent, _files, _guard
from ._spool import Spool

HOLD_AFTER_NOTICE = 3600.0  # seconds; a long-running first run sends after that
BACKOFF_BASE = 2.0
BACKOFF_MAX = 3600.0
DEFAULT_RETRY_AFTER = 60.0
MAX_RETRY_AFTER = 86400.0
KEEP_STATUSES = (408, 429)


class Result:
    def __init__(self) -> None:
        self.sent = self.kept = self.dropped = self.refused = 0
        self.problems: list[str] = []


class Uploader:
    def __init__(self) -> None:
        self._reinit()

    def _reinit(self) -> None:
        """Fresh state: at creation, and in a forked child (the parent's thread is not there)."""
        self._pid = os.getpid()
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition(threading.Lock())
        self._requested = self._completed = 0
        self._backoff: dict = {}  # endpoint -> (monotonic time of the next try, failures)
        self.data_dirs: set = set()
        # project -> monotonic time until which its pings wait: the run that showed the
        # notice sends nothing, so that a user who opts out at once sends nothing at all.
        self.held: dict = {}
        self.ca_bundle: str | None = None
        self.interval = float(_config.number("SEMPERVIRENS_INTERVAL"))
        self.on_tick = None  # called every `interval` seconds from the thread
        self._next_tick = time.monotonic() + self.interval

    # -- the host's side --------------------------------------------------------

    def start(self) -> bool:
        """Start the thread if it is not running in this process; False if it cannot."""
        with self._cond:
            if self._pid != os.getpid():
                self._reinit()
            if self._thread is not None and self._thread.is_alive():
                return True
            thread = threading.Thread(target=self._run, name="sempervirens-uploader", daemon=True)
            preload = not _preloaded
            if preload:
                _importing.acquire()  # released by the thread when its imports are done
            try:
                thread.start()
            except RuntimeError:  # interpreter shutting down (Python 3.12+ refuses threads)
                if preload:
                    _importing.release()
                return False
            self._thread = thread
            return True

    def request(self) -> int:
        """Ask for a pass over the spool; returns a ticket for `wait`."""
        with self._cond:
            self._requested += 1
            self._cond.notify_all()
            return self._requested

    def wait(self, ticket: int, timeout: float) -> bool:
        """Wait at most `timeout` seconds for the pass asked for by `ticket`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._completed < ticket:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._thread is None or not self._thread.is_alive():
                    return False
                self._cond.wait(remaining)
            return True

    # -- the thread -------------------------------------------------------------

    def _run(self) -> None:
        global _preloaded
        if not _preloaded:
            try:
                _preload()
                _preloaded = True
            except Exception as error:  # noqa: BLE001 - the guard: nothing reaches the host
                _guard.swallow(error)
            finally:
                _importing.release()
        while True:
            ticket = self._completed
            try:
                with self._cond:
                    ticket = self._requested
                    if ticket == self._completed:
                        self._cond.wait(self._sleep_time())
                        ticket = self._requested
                if time.monotonic() >= self._next_tick:
                    self._next_tick = time.monotonic() + self.interval
                    if self.on_tick is not None:
                        self.on_tick()
                for data_dir in list(self.data_dirs):
                    self.drain(data_dir)
            except Exception as error:  # noqa: BLE001 - the guard: nothing reaches the host
                _guard.swallow(error)
                time.sleep(1.0)  # never spin on a persistent failure
            finally:
                with self._cond:
                    self._completed = max(self._completed, ticket)
                    self._cond.notify_all()

    def _sleep_time(self) -> float:
        now = time.monotonic()
        wake = [self._next_tick]
        wake += [when for when, _ in self._backoff.values()]
        return max(0.05, min(wake) - now)

    # -- one pass ---------------------------------------------------------------

    def drain(self, data_dir: str, timeout: float | None = None, hold: bool = True) -> Result:
        """Send what may be sent now from the spool in `data_dir`."""
        from . import _transport

        result = Result()
        spool = Spool(data_dir)
        timeout = timeout or _config.number("SEMPERVIRENS_TIMEOUT")
        ca_bundle = self.ca_bundle or _config.text("SEMPERVIRENS_CA_BUNDLE")
        pauses = _read_pauses(spool)
        blocked: set = set()  # endpoints that failed in this pass
        for entry in spool.entries():
            if (
                hold
                and self.held.get(entry.project, 0) > time.monotonic()
                and entry.ping_type in ("usage", "crash")
            ):
                result.kept += 1
                continue
            fd = _open_locked(entry.path)
            if fd is None:  # another process is sending it, or it is gone
                continue
            try:
                with os.fdopen(fd, "rb", closefd=False) as f:
                    data = f.read()
                try:
                    header, body = spool.parse(data)
                except ValueError:
                    spool.discard(entry, "spool_corrupt")
                    continue
                endpoint = header["endpoint"]
                if header["ping_type"] in ("usage", "crash") and _refused(
                    data_dir, header["project"]
                ):
                    spool.remove(entry)  # the user said no after it was spooled: it never goes
                    result.refused += 1
                    continue
                if (
                    (header["ping_type"] in ("usage", "crash") and _config.denied_by_environment())
                    or endpoint in blocked
                    or not self._may_try(endpoint, pauses)
                ):
                    result.kept += 1
                    continue
                try:
                    answer = _transport.post(
                        endpoint,
                        header["project"],
                        header["ping_type"],
                        header["document_id"],
                        body,
                        timeout,
                        ca_bundle,
                    )
                except (OSError, ValueError) as error:  # refused, reset, timeout, TLS, bad URL
                    self._failed(endpoint)
                    blocked.add(endpoint)
                    result.kept += 1
                    result.problems.append(f"{endpoint}: {error}")
                    _guard.logger().debug("sempervirens: upload to %s failed: %s", endpoint, error)
                    continue
                status = answer.status
                if 200 <= status < 300:
                    spool.remove(entry)
                    self._backoff.pop(endpoint, None)
                    result.sent += 1
                elif status in (429, 503):
                    _pause(spool, endpoint, answer.retry_after)
                    pauses = _read_pauses(spool)
                    blocked.add(endpoint)
                    result.kept += 1
                    result.problems.append(f"{endpoint}: busy ({status}), pausing")
                elif 400 <= status < 500 and status not in KEEP_STATUSES:
                    spool.discard(entry, f"rejected_{status}")
                    result.dropped += 1
                    result.problems.append(
                        f"{endpoint}: refused a {header['ping_type']} ping "
                        f"({status}): {answer.error}"
                    )
                    _guard.logger().debug(
                        "sempervirens: ping refused (%s): %s", status, answer.error
                    )
                else:
                    self._failed(endpoint)
                    blocked.add(endpoint)
                    result.kept += 1
                    result.problems.append(f"{endpoint}: server error {status}")
            finally:
                _files.unlock_fd(fd)
                os.close(fd)
        return result

    def _may_try(self, endpoint: str, pauses: dict) -> bool:
        if pauses.get(endpoint, 0) > time.time():
            return False
        when, _ = self._backoff.get(endpoint, (0.0, 0))
        return time.monotonic() >= when

    def _failed(self, endpoint: str) -> None:
        _, failures = self._backoff.get(endpoint, (0.0, 0))
        delay = min(BACKOFF_MAX, BACKOFF_BASE * 2**failures) * _jitter()
        self._backoff[endpoint] = (time.monotonic() + delay, failures + 1)


def _jitter() -> float:
    """A factor in [0.5, 1.5) so that many clients do not retry in step (no `random` import)."""
    return 0.5 + int.from_bytes(os.urandom(2), "big") / 65536


def _open_locked(path: str) -> int | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    # Locked by a sibling process, or unlinked after it sent it while we waited.
    if not _files.try_lock_fd(fd) or os.fstat(fd).st_nlink == 0:
        os.close(fd)
        return None
    return fd


def _refused(data_dir: str, project: str) -> bool:
    try:
        store = _consent.load(data_dir)
    except _consent.ConsentUnreadable:
        return True
    return _consent.decision(store, "usage", project) == _consent.DENIED


def _pauses_path(spool: Spool) -> str:
    return os.path.join(spool.dir, "pause.json")


def _read_pauses(spool: Spool) -> dict:
    try:
        pauses = _files.read_json(_pauses_path(spool), {})
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in pauses.items() if isinstance(v, (int, float)) and v > time.time()}


def _pause(spool: Spool, endpoint: str, retry_after: str | None) -> None:
    seconds = parse_retry_after(retry_after)
    try:
        with _files.FileLock(_pauses_path(spool) + ".lock", timeout=0.2):
            pauses = _read_pauses(spool)
            pauses[endpoint] = time.time() + seconds
            _files.write_json(_pauses_path(spool), pauses)
    except (OSError, TimeoutError) as error:
        _guard.logger().debug("sempervirens: cannot record pause: %s", error)


def parse_retry_after(value: str | None) -> float:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return DEFAULT_RETRY_AFTER
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            from email.utils import parsedate_to_datetime

            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):
            return DEFAULT_RETRY_AFTER
    if math.isnan(seconds):
        return DEFAULT_RETRY_AFTER
    return min(MAX_RETRY_AFTER, max(1.0, seconds))


# The thread imports, in the background, what uploading and the exit path need, so
# that neither the host's first recording nor its exit pays for it.  A fork in the
# middle of an import would leave the child a half-initialised module (and a module
# lock held by a thread that does not exist there), so a fork waits for the imports
# to finish: at most once per process, for some tens of milliseconds.
_importing = threading.Lock()
_preloaded = False


def _before_fork() -> None:
    if _importing.acquire(timeout=2.0):
        _importing.release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork)


def _preload() -> None:
    # First what the exit path needs (the ping's environment), then the network.
    from . import _environment, _pings, _spool  # noqa: F401

    _environment.environment()
    from . import _transport  # noqa: F401


uploader = Uploader()
