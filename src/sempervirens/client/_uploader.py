"""Uploading: one sender thread per endpoint, alive only while it has work.

Nothing runs while the client is idle.  A request (a project's first recording,
`flush()`, the end of a period, exit) starts a short-lived dispatcher that reads
the spool and starts, for each endpoint with pings to send, a sender of its
own: an endpoint that never answers holds only its own sender, never another
endpoint's pings.  A long-running host also has a ticker that ends its periods
every `interval` seconds; it is stopped before the host forks (and restarted in
the parent after), so that a fork never sees a thread of ours while we are idle.

Each sender sends every pending ping of its endpoint that may be sent now,
oldest first:

- 2xx: stored (a resend of the same document id is stored once): delete it;
- 400, 404, 413, 415 and other 4xx: never acceptable: delete it, count it dropped;
- 429 or 503: pause that endpoint for Retry-After seconds (persisted, so other
  processes of the user pause too), keep it;
- other 5xx, 408, network or TLS failure: keep it, retry after an exponential
  backoff with jitter.

Usage and crash pings of a project wait while the run that showed its first-run
notice is still running (that process, its workers and siblings), so that a user
who opts out at once sends nothing at all.
"""

from __future__ import annotations

import _thread
import math
import os
import sys
import threading
import time

from . import _config, _consent, _files, _guard, _policy
from ._spool import Spool

HOLD_AFTER_NOTICE = 3600.0  # seconds; a long-running first run sends after that
BACKOFF_BASE = 2.0
BACKOFF_MAX = 3600.0
DEFAULT_RETRY_AFTER = 60.0
MAX_RETRY_AFTER = 86400.0
KEEP_STATUSES = (408, 429)
_HELD_TYPES = ("usage", "crash")


class Result:
    def __init__(self) -> None:
        self.sent = self.kept = self.dropped = self.refused = 0
        self.problems: list[str] = []


class Uploader:
    def __init__(self) -> None:
        self._reinit()

    def _reinit(self) -> None:
        """Fresh state: at creation, and in a forked child (the parent's threads are not there)."""
        self._pid = os.getpid()
        self._cond = threading.Condition(threading.Lock())
        self._requested = self._dispatched = 0
        self._busy = 0  # dispatcher and senders running
        self._dispatcher: threading.Thread | None = None
        self._again = False  # a request came while the dispatcher was running
        self._senders: dict = {}  # endpoint -> its running sender thread
        self._resend: set = set()  # endpoints asked for another pass while their sender runs
        self._ending: list = []  # threads that said they are done (and are ending)
        self._ticker = None  # the running ticker's "done" lock
        self._ticker_native = None
        self._stop_ticker = False
        self._ticker_paused = False
        self._backoff: dict = {}  # endpoint -> (monotonic time of the next try, failures)
        self.data_dirs: set = set()
        # endpoint -> the CA bundle its project asked for: trust belongs to one endpoint
        self.trust: dict = {}
        self.threads_refused = False  # at exit, some Pythons (3.12.1) start no thread
        self._policy_seen: dict = {}  # (data dir, endpoint) -> the policy headers last recorded
        self.interval = float(_config.number("SEMPERVIRENS_INTERVAL"))
        self.on_tick = None  # called every `interval` seconds from the ticker
        self._next_tick = time.monotonic() + self.interval

    # -- the host's side --------------------------------------------------------

    def start(self) -> bool:
        """Make this uploader usable in this process (after a fork); True when it is."""
        with self._cond:
            if self._pid != os.getpid():
                self._reinit()
            return True

    def request(self) -> int:
        """Ask for a pass over the spool; returns a ticket for `wait`."""
        with self._cond:
            self._requested += 1
            ticket = self._requested
            if self._dispatcher is not None:
                self._again = True
            elif not self._spawn(self._dispatch, "sempervirens-dispatch", preload=True):
                return ticket
            return ticket

    def wait(self, ticket: int, timeout: float) -> bool:
        """Wait at most `timeout` seconds for the pass asked for by `ticket`, senders included."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._dispatched < ticket or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self._busy == 0 and self._dispatcher is None):
                    return self._dispatched >= ticket and not self._busy
                self._cond.wait(min(remaining, _thread.TIMEOUT_MAX))  # 49 days on Windows
            return True

    def start_ticker(self, blocking: bool = True) -> bool:
        """Start ending periods every `interval` seconds (idempotent); False if not now.

        A bare `_thread` thread, not a `threading.Thread`: it may be started from a
        garbage-collector callback (after a fork), where threading's own locks may
        be held by the very thread that runs the callback.
        """
        if not self._cond.acquire(blocking):
            return False
        try:
            self._stop_ticker = False
            if self._ticker is None:
                done = _thread.allocate_lock()
                done.acquire()
                self._ticker = done
                try:
                    _born_without_sigterm(_thread.start_new_thread, self._tick, (done,))
                except RuntimeError:  # interpreter shutting down
                    self._ticker = None
                    return False
            return True
        finally:
            self._cond.release()

    def _spawn(self, target, name: str, preload: bool = False, busy: bool = True, args=()):
        """Start a daemon thread (with `_cond` held); None if the interpreter refuses."""
        thread = threading.Thread(target=target, name=name, args=args, daemon=True)
        need_preload = preload and not _preloaded
        if need_preload:
            _importing.acquire()  # released by the thread when its imports are done
        try:
            _born_without_sigterm(thread.start)
        except RuntimeError:  # interpreter shutting down (Python 3.12+ refuses threads)
            if need_preload:
                _importing.release()
            self.threads_refused = True
            return None
        if busy:
            self._busy += 1
        if target == self._dispatch:
            self._dispatcher = thread
        return thread

    # -- the threads ------------------------------------------------------------

    def _done(self) -> None:
        """Called last by a dispatcher or sender (with `_cond` held)."""
        self._busy -= 1
        self._ending.append(threading.current_thread())  # joined before a fork
        self._cond.notify_all()

    def _dispatch(self) -> None:
        global _preloaded
        if not _preloaded:
            try:
                if not _exiting:
                    _preload()
                    _preloaded = True
            except Exception as error:  # noqa: BLE001 - the guard: nothing reaches the host
                _guard.swallow(error)
            finally:
                _importing.release()
        if self.on_tick is not None and self._ticker is None and not _exiting:
            self.start_ticker()
        while True:
            with self._cond:
                ticket = self._requested
                self._again = False
            try:
                for endpoint in self._endpoints_to_try():
                    with self._cond:
                        if endpoint in self._senders:
                            self._resend.add(endpoint)
                        else:
                            thread = self._spawn(self._send, "sempervirens-send", args=(endpoint,))
                            if thread is not None:
                                self._senders[endpoint] = thread
            except Exception as error:  # noqa: BLE001 - the guard: nothing reaches the host
                _guard.swallow(error)
            with self._cond:
                self._dispatched = max(self._dispatched, ticket)
                if not self._again:
                    self._dispatcher = None
                    self._done()
                    return

    def _endpoints_to_try(self) -> list:
        endpoints: dict = {}
        for data_dir in list(self.data_dirs):
            spool = Spool(data_dir)
            pauses = _read_pauses(spool)
            for entry in spool.entries():
                header = spool.header(entry)
                if header is None:
                    continue
                endpoint = header["endpoint"]
                if endpoint not in endpoints and self._may_try(endpoint, pauses):
                    endpoints[endpoint] = True
        return list(endpoints)

    def _send(self, endpoint: str) -> None:
        try:
            while True:
                for data_dir in list(self.data_dirs):
                    self.drain(data_dir, endpoint=endpoint)
                with self._cond:
                    if endpoint not in self._resend:
                        del self._senders[endpoint]
                        return
                    self._resend.discard(endpoint)
        except Exception as error:  # noqa: BLE001 - the guard: nothing reaches the host
            _guard.swallow(error)
            with self._cond:
                self._senders.pop(endpoint, None)
        finally:
            with self._cond:
                self._done()

    def _tick(self, done) -> None:
        self._ticker_native = _thread.get_native_id()
        try:
            while True:
                with self._cond:
                    while not self._stop_ticker:
                        remaining = self._next_tick - time.monotonic()
                        if remaining <= 0:
                            break
                        self._cond.wait(min(remaining, _thread.TIMEOUT_MAX))
                    if self._stop_ticker:
                        if self._ticker is done:
                            self._ticker = None
                        return
                    self._next_tick = time.monotonic() + self.interval
                try:
                    if self.on_tick is not None:
                        self.on_tick()
                    self.request()
                except Exception as error:  # noqa: BLE001 - the guard: nothing reaches the host
                    _guard.swallow(error)
        finally:
            done.release()

    # -- fork: no thread of ours while idle -------------------------------------

    def _pause_ticker_for_fork(self) -> None:
        """Before a fork: stop the idle ticker, and see finished threads really gone."""
        with self._cond:
            if self._pid != os.getpid():
                return
            ending, self._ending = self._ending, []
            ticker = self._ticker
            if ticker is not None:
                self._stop_ticker = True
                self._cond.notify_all()
        for thread in ending:
            thread.join(0.1)  # it has returned already: this takes microseconds
            _wait_for_os_threads(thread.native_id)
        if ticker is None:
            return
        # It may be ending a period (milliseconds); then it is gone.
        if ticker.acquire(True, 0.5):
            ticker.release()
            with self._cond:
                self._ticker_paused = True
            _wait_for_os_threads(self._ticker_native)

    def _resume_ticker_after_fork(self) -> None:
        with self._cond:
            paused, self._ticker_paused = self._ticker_paused, False
        if not paused:
            return
        if sys.version_info < (3, 13):
            self.start_ticker()  # the fork warning has been decided already
        else:
            # 3.13+ counts threads after these hooks: start it at the next collection.
            import gc

            gc.callbacks.append(_restart_ticker_on_gc)

    # -- one pass ---------------------------------------------------------------

    def drain(
        self,
        data_dir: str,
        timeout: float | None = None,
        hold: bool = True,
        endpoint: str | None = None,
        deadline: float | None = None,
    ) -> Result:
        """Send what may be sent now from the spool in `data_dir` (to `endpoint` only if given)."""
        from . import _transport

        result = Result()
        spool = Spool(data_dir)
        timeout = timeout or _config.number("SEMPERVIRENS_TIMEOUT")
        pauses = _read_pauses(spool)
        blocked: set = set()  # endpoints that failed in this pass
        holds: dict = {}  # project -> held?
        policy_holds: dict = {}  # endpoint -> held (a policy notice to show first)?
        for entry in spool.entries():
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
                if timeout <= 0:
                    break  # what is left goes next run
            fd = spool.open_locked(entry)
            if fd is None:  # another process is sending it, it is gone, or quarantined
                continue
            try:
                data = _files.read_fd(fd)
                try:
                    header, body = spool.parse(data)
                except ValueError:
                    if spool.discard(entry, "spool_corrupt", data):
                        result.dropped += 1
                    continue
                target = header["endpoint"]
                shown = _config.without_credentials(target)  # a file of an older client
                if endpoint is not None and target != endpoint:
                    continue
                project, ping_type = header["project"], header["ping_type"]
                if hold and ping_type in _HELD_TYPES:
                    if project not in holds:
                        holds[project] = first_run_holds(data_dir, project)
                    if target not in policy_holds:
                        policy_holds[target] = _policy.holds(data_dir, target)
                    if holds[project] or policy_holds[target]:
                        result.kept += 1  # untouched while the first run runs
                        continue
                if ping_type in _HELD_TYPES and _refused(data_dir, project):
                    spool.remove(entry)  # the user said no after it was spooled: it never goes
                    result.refused += 1
                    continue
                if (
                    (ping_type in _HELD_TYPES and _config.denied_by_environment())
                    or target in blocked
                    or not self._may_try(target, pauses)
                ):
                    result.kept += 1
                    continue
                ca_bundle = (
                    header.get("ca_bundle")
                    or self.trust.get(target)
                    or _config.text("SEMPERVIRENS_CA_BUNDLE")
                )
                try:
                    answer = _transport.post(
                        target,
                        project,
                        ping_type,
                        header["document_id"],
                        body,
                        timeout,
                        ca_bundle if isinstance(ca_bundle, str) else None,
                    )
                except (OSError, ValueError) as error:  # refused, reset, timeout, TLS, bad URL
                    self._failed(target)
                    blocked.add(target)
                    result.kept += 1
                    result.problems.append(f"{shown}: {error}")
                    _guard.logger().debug("sempervirens: upload to %s failed: %s", shown, error)
                    continue
                status = answer.status
                if 200 <= status < 300:
                    spool.remove(entry)
                    self._backoff.pop(target, None)
                    result.sent += 1
                    if answer.policy and self._record_policy(data_dir, target, answer.policy):
                        policy_holds.pop(target, None)  # look again: maybe news to show first
                elif status in (429, 503):
                    _pause(spool, target, answer.retry_after)
                    pauses = _read_pauses(spool)
                    blocked.add(target)
                    result.kept += 1
                    result.problems.append(f"{shown}: busy ({status}), pausing")
                elif 400 <= status < 500 and status not in KEEP_STATUSES:
                    spool.discard(entry, f"rejected_{status}", data)
                    result.dropped += 1
                    result.problems.append(
                        f"{shown}: refused a {ping_type} ping ({status}): {answer.error}"
                    )
                    _guard.logger().debug(
                        "sempervirens: ping refused (%s): %s", status, answer.error
                    )
                else:
                    self._failed(target)
                    blocked.add(target)
                    result.kept += 1
                    result.problems.append(f"{shown}: server error {status}")
            finally:
                spool.close(entry, fd)
        return result

    def _record_policy(self, data_dir: str, endpoint: str, policy: tuple) -> bool:
        """Keep what the server said of its policy; True if it was new to this process."""
        if self._policy_seen.get((data_dir, endpoint)) == policy:
            return False
        try:
            _policy.record(data_dir, endpoint, policy)
        except (OSError, TimeoutError) as error:  # the next answer says it again
            _guard.logger().debug("sempervirens: policy not recorded: %s", error)
            return False
        self._policy_seen[(data_dir, endpoint)] = policy
        return True

    def send_here(self, deadline: float) -> None:
        """Send from this thread until `deadline` (monotonic): at exit, when no thread starts.

        Each endpoint gets an equal share of the time left, so that one that never
        answers cannot hold another's pings, as it cannot with a sender per endpoint.
        """
        endpoints = self._endpoints_to_try()
        for i, endpoint in enumerate(endpoints):
            share = (deadline - time.monotonic()) / (len(endpoints) - i)
            if share <= 0:
                return
            until = min(deadline, time.monotonic() + share)
            for data_dir in list(self.data_dirs):
                self.drain(data_dir, endpoint=endpoint, deadline=until)

    def _may_try(self, endpoint: str, pauses: dict) -> bool:
        if pauses.get(endpoint, 0) > time.time():
            return False
        when, _ = self._backoff.get(endpoint, (0.0, 0))
        return time.monotonic() >= when

    def _failed(self, endpoint: str) -> None:
        _, failures = self._backoff.get(endpoint, (0.0, 0))
        delay = min(BACKOFF_MAX, BACKOFF_BASE * 2**failures) * _jitter()
        self._backoff[endpoint] = (time.monotonic() + delay, failures + 1)


def _born_without_sigterm(start, *args):
    """Call `start(*args)`, which starts one of our threads, with SIGTERM blocked here:
    the new thread inherits the mask from its first instruction, and never takes a
    SIGTERM sent to the process.

    The signal goes to a thread of the host instead (the main thread, usually):
    where a Python handler is set (ours in multiprocessing workers, see
    _termination.py), only the main thread runs it, and a signal that landed on one
    of our threads would leave a main thread blocked in a system call waiting
    forever.  (Blocking it inside the new thread, once started, left a window in
    which a worker that `pool.terminate()` signalled lived on: a hang in 1 of ~120
    runs.)  A SIGTERM that comes meanwhile waits, and reaches this thread once its
    mask is restored.
    """
    try:
        import signal

        previous = signal.pthread_sigmask(signal.SIG_BLOCK, (signal.SIGTERM,))
    except (AttributeError, ValueError, OSError):  # Windows: no signal masks
        return start(*args)
    try:
        return start(*args)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def first_run_holds(data_dir: str, project: str) -> bool:
    """Whether the run that showed `project`'s first-run notice is still running.

    That run sends nothing, in any of its processes (spawn workers, siblings on
    the same machine): the notice records the process that showed it, and its
    pings wait until that process has ended (an hour at most).
    """
    try:
        store = _consent.load(data_dir)
    except _consent.ConsentUnreadable:
        return True
    notice = store["notices"].get(project)
    if not isinstance(notice, dict):
        return False  # shown by an older client, or never: nothing to hold
    return _policy.running(notice, HOLD_AFTER_NOTICE)


def _restart_ticker_on_gc(phase, info) -> None:
    if phase != "stop":
        return
    import gc

    try:
        if uploader.start_ticker(blocking=False):
            gc.callbacks.remove(_restart_ticker_on_gc)
    except Exception as error:  # noqa: BLE001 - the guard: nothing reaches the host
        _guard.swallow(error)


def _wait_for_os_threads(native) -> None:
    """After a join, the OS thread may live some microseconds more: CPython's fork
    warning counts OS threads (/proc/self/stat), so wait until it is gone (2 ms at most)."""
    if native is None or not os.path.isdir("/proc/self/task"):
        return
    path = f"/proc/self/task/{native}"
    for _ in range(200):
        if not os.path.exists(path):
            return
        time.sleep(0.00001)


def _jitter() -> float:
    """A factor in [0.5, 1.5) so that many clients do not retry in step (no `random` import)."""
    return 0.5 + int.from_bytes(os.urandom(2), "big") / 65536


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
_exiting = False  # set at exit: no more imports in our threads (see _telemetry)


def _before_fork() -> None:
    if _importing.acquire(timeout=2.0):
        _importing.release()
    try:
        uploader._pause_ticker_for_fork()
    except Exception as error:  # noqa: BLE001 - the guard: nothing reaches the host
        _guard.swallow(error)


def _after_fork_in_parent() -> None:
    try:
        uploader._resume_ticker_after_fork()
    except Exception as error:  # noqa: BLE001 - the guard: nothing reaches the host
        _guard.swallow(error)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent)


def _preload() -> None:
    # First what the exit path needs (the ping's environment), then the network.
    from . import _environment, _pings, _spool  # noqa: F401

    _environment.environment()
    from . import _transport  # noqa: F401


uploader = Uploader()
