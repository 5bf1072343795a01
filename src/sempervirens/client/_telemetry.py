"""`Telemetry`: what a project creates once, and the lifecycle around its recordings.

Creating one reads a few environment variables and registers the exit handler:
no file, no thread, no network.  The first recording decides (consent, data directory, the
one-time notice) and, when collecting, starts the uploader thread, which first
sends what earlier runs left in the spool.  A period ends at interpreter exit and
every `interval` seconds: its ping is written to the spool, and at exit the host
waits at most `exit_timeout` seconds for the upload.
"""

from __future__ import annotations

import os
import sys
import time
from _thread import allocate_lock, get_ident

from . import _config, _guard, _paths, _wire
from ._guard import guarded
from ._recorder import Recorder

MODES = ("opt-out", "opt-in")
EXIT_MARGIN = 0.03  # seconds

_instances: list = []  # strong references: what was recorded is reported even if dropped
_activation = allocate_lock()
_override = None  # set by sempervirens.testing: "disabled" or a Capture
_exit_registered = False
_deciding = None  # the thread deciding a first recording (signal handlers may re-enter)

NOTICE = """\
{project} collects anonymous usage statistics with Sempervirens: which of its \
features are used, how long they take, crashes only if you say so, and the \
platform (OS, Python, CPU count, memory). It sends a random installation id, \
never your name, files or data. Nothing has been sent yet.
To turn it off: `sempervirens opt-out {project}` (or everywhere: \
`sempervirens opt-out --all`, or set DO_NOT_TRACK=1). To see what would be sent: \
`sempervirens show`.
"""


class Telemetry(Recorder):
    """Usage telemetry of one project.

    >>> telemetry = Telemetry("myproject", version="1.2.0")
    >>> telemetry.count("io.read_csv")

    `consent` is the project's default: "opt-out" collects unless the user says
    no (after a one-time notice on stderr), "opt-in" records nothing until the
    user says yes.  The user's decision, DO_NOT_TRACK and SEMPERVIRENS_OPT_OUT
    always win.
    """

    def __init__(
        self,
        project: str,
        version: str | None = None,
        *,
        endpoint: str = _config.DEFAULT_ENDPOINT,
        consent: str = "opt-out",
        exit_timeout: float | None = None,
        interval: float | None = None,
        ca_bundle: str | None = None,
    ) -> None:
        super().__init__()
        self._on = None
        self._held = False
        self._data_dir: str | None = None
        self.problems: list[str] = []  # the maintainer's configuration mistakes
        try:
            # One key per project, as the server's (PEP 503): `sempervirens opt-out
            # scikit-learn` is the user's answer to Telemetry("Scikit_Learn") too.
            self.project = _wire.project_key(project)
            self.version = version
            self.endpoint = _config.text("SEMPERVIRENS_ENDPOINT") or endpoint
            if type(self.endpoint) is str:
                self.endpoint = _config.without_credentials(self.endpoint)
            # An unknown mode is treated as the stricter one.
            self.consent_mode = consent if consent in MODES else "opt-in"
            self.exit_timeout = float(_config.number("SEMPERVIRENS_EXIT_TIMEOUT"))
            self.interval = None
            self.ca_bundle = ca_bundle
            self._check(consent, exit_timeout, interval)
            with _activation:
                _instances.append(self)
            _register_exit()
        except Exception as error:  # noqa: BLE001 - the guard: nothing reaches the host
            _guard.swallow(error)
            self._on = False

    def _check(self, consent, exit_timeout, interval) -> None:
        """Say each configuration mistake once, now; a broken configuration collects nothing."""
        problems = self.problems
        if not _wire.valid_project(self.project):
            problems.append(
                f"{self.project!r} is not a project name (letters, digits, '.', '_', '-'; "
                "at most 100; starting and ending with a letter or digit)"
            )
        if consent not in MODES:
            problems.append(f"consent={consent!r}: must be 'opt-out' or 'opt-in'")
        endpoint_problem = _config.endpoint_problem(self.endpoint)
        if endpoint_problem:
            problems.append(endpoint_problem)
        for name, value in (("exit_timeout", exit_timeout), ("interval", interval)):
            setting = "SEMPERVIRENS_INTERVAL" if name == "interval" else "SEMPERVIRENS_EXIT_TIMEOUT"
            why = value is not None and _config.number_problem(setting, value)
            if why:
                problems.append(f"{name}={value!r}: {why}")
        if interval is not None and not _config.number_problem("SEMPERVIRENS_INTERVAL", interval):
            self.interval = float(interval)
        if exit_timeout is not None and not _config.number_problem(
            "SEMPERVIRENS_EXIT_TIMEOUT", exit_timeout
        ):
            self.exit_timeout = float(exit_timeout)
        # The user's settings: refused with one warning each, the default used instead.
        for setting in ("SEMPERVIRENS_INTERVAL", "SEMPERVIRENS_TIMEOUT"):
            _config.number(setting)
        _paths.data_dir()
        if problems:
            self._on = False
            _config.warn(
                f"Telemetry({self.project!r}) is misconfigured and collects nothing: "
                + "; ".join(problems),
                stacklevel=4,
            )

    def __repr__(self) -> str:
        state = {True: "collecting", False: "off", None: "not used yet"}[self._on]
        return f"<Telemetry {self.project!r} {self.version!r} {state}>"

    # -- first use ----------------------------------------------------------------

    def _activate(self) -> bool:
        global _deciding
        if _deciding == get_ident():
            # A signal handler interrupted this thread while it decides: record
            # provisionally (a period of a client that ends up off is never sent).
            return True
        if not _activation.acquire(True, 1.0):
            return False
        try:
            _deciding = get_ident()
            if self._on is None:
                try:
                    self._on = self._decide()
                    if self._on and _override is None:
                        _start_background(self)
                        if _in_mp_child():
                            from . import _termination

                            _termination.end_periods_on_sigterm()
                except RecursionError:
                    # The host first recorded with its stack nearly full (deep in its own
                    # recursion): decide again at a later call, rather than never.
                    self._on = None
                    return False
                except Exception as error:  # noqa: BLE001 - the guard: nothing reaches the host
                    _guard.swallow(error)
                    self._on = False
            return bool(self._on)
        finally:
            _deciding = None
            _activation.release()

    def _decide(self) -> bool:
        if not _wire.valid_project(self.project):
            return False
        if _override is not None:
            return _override != "disabled"
        if _config.denied_by_environment():
            return False  # before any import: a refused client costs nothing
        if _config.other_rank():
            return False  # one report per job, from rank 0: the others cost nothing
        from . import _consent, _paths

        data_dir = _paths.data_dir()
        if data_dir is None or not _paths.ensure_dir(data_dir):
            return False  # nowhere to keep an id, a decision or a spool: a silent no-op
        allowed, why = _consent.usage_allowed(data_dir, self.project, self.consent_mode)
        if not allowed:
            return False
        self._data_dir = data_dir
        if why == "the project's default (opt-out)" and not _consent.notice_shown(
            data_dir, self.project
        ):
            if _consent.claim_notice(data_dir, self.project):
                self._held = True  # this run's pings wait for the next run: time to say no
                text = NOTICE.format(project=self.project)
                _show_notice(text, text)
            elif not _consent.notice_shown(data_dir, self.project):
                return False  # cannot remember the notice: do not collect
        if not self._held:
            from . import _policy

            # The server's policy changed materially, or it posted a security notice.
            news = _policy.claim(data_dir, self.endpoint)
            if news:
                self._held = True  # held even if showing it fails part way
                _show_notice(*_policy.notice(self.project, self.endpoint, news))
        return True

    @property
    def enabled(self) -> bool:
        """Whether recordings are kept (decides on first call, like a recording)."""
        try:
            return bool(self._on or (self._on is None and self._activate()))
        except RecursionError:
            return False  # the host's stack is full: undecided for now
        except Exception as error:  # noqa: BLE001 - the guard: nothing reaches the host
            _guard.swallow(error)
            return False

    # -- periods ------------------------------------------------------------------

    @guarded()
    def flush(self) -> None:
        """End the current period now: its ping goes to the spool and is uploaded soon."""
        _ending_periods(self._end_period)
        if self._on and _override is None:
            from ._uploader import uploader

            uploader.request()

    def _end_period(self) -> None:
        if not self._has_data() and not self._overflow:
            return
        counters, timings, overflow, start = self._take()
        if hasattr(_override, "_collect"):
            _override._collect(self, counters, timings)
            return
        if not self._on or self._data_dir is None:
            return
        from . import _consent, _identity, _pings, _projects
        from ._recorder import wire_metrics
        from ._spool import Spool

        # The user may have said no since the first recording: ask again.
        if not _consent.usage_allowed(self._data_dir, self.project, self.consent_mode)[0]:
            self._on = False
            return
        client_id = _identity.get_or_create(self._data_dir)
        if client_id is None:
            return
        metrics, dropped = wire_metrics(counters, timings, overflow)
        spool = Spool(self._data_dir)
        earlier = spool.take_dropped(self.project)
        version = _pings.clean_version(self.version)
        body = _pings.usage(client_id, version, start, time.time(), metrics, dropped, earlier)
        try:
            spool.put(
                self.endpoint, self.project, "usage", _pings.encode(body), ca_bundle=self.ca_bundle
            )
        except BaseException:
            for reason, n in earlier.items():
                spool.add_dropped(self.project, reason, n)
            raise
        spool.enforce_bounds(
            int(_config.number("SEMPERVIRENS_SPOOL_MAX_PINGS")),
            int(_config.number("SEMPERVIRENS_SPOOL_MAX_BYTES")),
            _config.number("SEMPERVIRENS_SPOOL_MAX_AGE"),
        )
        _projects.remember(self._data_dir, self.project, self.endpoint, version, self.consent_mode)

    # -- the user's decisions -----------------------------------------------------

    @guarded(False)
    def opt_in(self, crash_reports: bool = False) -> bool:
        """Record the user's yes for this project (or for its crash reports)."""
        from . import _actions

        data_dir = self._data_dir or _writable_data_dir()
        if data_dir is None:
            return False
        _actions.opt_in(data_dir, self.project, crash_only=crash_reports)
        if not crash_reports:
            with _activation:
                if not self._on:
                    self._on = None  # decide again on the next recording
        return True

    @guarded(False)
    def opt_out(self, crash_reports: bool = False) -> bool:
        """Record the user's no: pending data of this project is deleted, nothing more is sent."""
        from . import _actions, _pings

        data_dir = self._data_dir or _writable_data_dir()
        if not crash_reports:
            self._on = False
            self._take()  # forget what was recorded in memory
        if data_dir is None:
            return False
        current = {
            "endpoint": self.endpoint,
            "version": _pings.clean_version(self.version),
            "mode": self.consent_mode,
        }
        notified = _actions.opt_out(
            data_dir, self.project, crash_only=crash_reports, current=current
        )
        if notified and _override is None:
            from ._uploader import uploader

            uploader.data_dirs.add(data_dir)
            if uploader.start():
                uploader.request()
        return True

    # -- crash reports ------------------------------------------------------------

    @guarded(False)
    def report_crash(self, error: BaseException) -> bool:
        """Offer a crash report; True if it will be sent.

        Sent only with the user's permission: a standing yes (`sempervirens
        opt-in --crash-reports PROJECT`), or a yes to the question asked on an
        interactive terminal, after the user has read the exact scrubbed text.
        The question waits SEMPERVIRENS_PROMPT_TIMEOUT seconds at most (then: not
        now), and is never asked in a test runner or in CI; in a notebook kernel
        the text and the commands that answer are a cell output (nothing waits).
        """
        return self._report_crash(error, may_ask=True)

    def _report_crash(self, error: BaseException, may_ask: bool) -> bool:
        from . import _consent, _crash

        if not isinstance(error, BaseException) or not self.enabled:
            return False
        text = _crash.format_report(error)
        kind = _crash.exception_type(error)
        if hasattr(_override, "_collect"):
            _override.crashes.append(
                {"project": self.project, "exception_type": kind, "traceback": text}
            )
            return True
        data_dir = self._data_dir
        permission = _consent.crash_allowed(data_dir, self.project)
        if permission is None and may_ask and _crash.interactive():
            answer = _crash.ask(self.project, text, _config.number("SEMPERVIRENS_PROMPT_TIMEOUT"))
            if answer in ("always", "never"):
                _consent.update(
                    data_dir,
                    "crash",
                    self.project,
                    _consent.GRANTED if answer == "always" else _consent.DENIED,
                )
            permission = _consent.GRANTED if answer in ("yes", "always") else _consent.DENIED
        elif permission is None and may_ask and "ipykernel" in sys.modules:
            from . import _notebook

            _notebook.offer_crash_report(self.project, text)  # never input(): it would block
        if permission != _consent.GRANTED:
            return False
        self._spool_crash(kind, text)
        return True

    def _spool_crash(self, kind: str, text: str) -> None:
        from . import _identity, _pings
        from ._spool import Spool
        from ._uploader import uploader

        client_id = _identity.get_or_create(self._data_dir)
        if client_id is None:
            return
        body = _pings.crash(client_id, _pings.clean_version(self.version), kind, text)
        Spool(self._data_dir).put(
            self.endpoint, self.project, "crash", _pings.encode(body), ca_bundle=self.ca_bundle
        )
        uploader.request()

    @guarded(False)
    def install_excepthook(self, package: str | None = None) -> bool:
        """Offer a crash report for uncaught exceptions that pass through `package`.

        `package` is the top-level module name (default: the project name with
        '-' as '_'); exceptions that never touch it are none of the project's
        business and are not offered.
        """
        from . import _consent, _crash

        package = package or self.project.replace("-", "_").lower()
        previous = sys.excepthook

        def excepthook(kind, error, tb):
            # The program is ending: no question here (it would hold the exit), only
            # a standing yes sends; otherwise one line says how to give one.
            try:
                if isinstance(error, Exception) and _crash.involves(error, package):
                    sent = self._report_crash(error, may_ask=False)
                    if (
                        not sent
                        and self._data_dir is not None
                        and _consent.crash_allowed(self._data_dir, self.project) is None
                    ):
                        _crash.hint(self.project)
            except Exception as failure:  # noqa: BLE001 - the guard: nothing reaches the host
                _guard.swallow(failure)
            finally:
                previous(kind, error, tb)

        sys.excepthook = excepthook
        return True


def _writable_data_dir() -> str | None:
    from . import _paths

    data_dir = _paths.data_dir()
    return data_dir if data_dir and _paths.ensure_dir(data_dir) else None


def _show_notice(text: str, markdown: str) -> None:
    """In a notebook, as an output of the cell that recorded; elsewhere on stderr."""
    if "ipykernel" in sys.modules:
        from . import _notebook

        if _notebook.display(text, markdown):
            return
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):  # no stderr (pythonw), or closed
        pass


def _start_background(telemetry: Telemetry) -> None:
    """Called with `_activation` held, on a project's first recording."""
    from ._uploader import uploader

    _register_exit()
    _register_mp_finalizer_if_child()  # once per process (a forked child inherits the rest)
    uploader.start()
    uploader.data_dirs.add(telemetry._data_dir)
    if telemetry.ca_bundle:
        uploader.trust[telemetry.endpoint] = telemetry.ca_bundle  # this endpoint's only
    if telemetry.interval:
        uploader.interval = min(uploader.interval, float(telemetry.interval))
        uploader._next_tick = min(uploader._next_tick, time.monotonic() + uploader.interval)
    uploader.on_tick = _end_periods  # the dispatcher starts the ticker: not the host's time
    uploader.request()  # what earlier runs left in the spool goes now


def _register_exit() -> None:
    """Register the exit handler once, when the first Telemetry is created.

    Exit handlers run last in, first out: the host's own, registered after its
    Telemetry was made (say, one that counts what the run did), run before ours
    and what they record is in the last ping; registered at the first recording,
    ours ran first and such a count was lost, as was everything of a host that
    first recorded in an exit handler (one registered during the exit never runs).
    """
    global _exit_registered
    if not _exit_registered:
        import atexit

        atexit.register(_keep_interrupt_status)  # runs after _at_exit (last in, first out)
        atexit.register(_at_exit)
        _exit_registered = True


def _end_periods() -> None:
    _ending_periods(_end_each_period)


def _end_each_period() -> None:
    for telemetry in _instances:
        try:
            telemetry._end_period()
        except Exception as error:  # noqa: BLE001 - the guard: nothing reaches the host
            _guard.swallow(error)


_ending: list = []  # the threads ending periods now (a SIGTERM waits for them)
_terminating = False  # a SIGTERM came (_termination.py): die once no period is ending


def _ending_periods(end) -> None:
    """Run `end`; a SIGTERM that came meanwhile kills the process once it is written."""
    ident = get_ident()
    _ending.append(ident)
    try:
        end()
    finally:
        _ending.remove(ident)
        if _terminating and not _ending:
            from . import _termination

            _termination.die()


def _at_exit() -> None:
    """End every period, then wait a bounded time for the upload; never longer."""
    try:
        budget = max((t.exit_timeout for t in _instances), default=0.1)
        # The interpreter's own tear-down of what the client loaded (sockets, zlib,
        # json) comes after us: keep a little of the budget for it.
        deadline = time.monotonic() + budget - min(EXIT_MARGIN, budget * 0.3)
        _end_periods()
        # Nothing was ever collected (never recorded, or refused): nothing to import.
        _uploader = sys.modules.get(__package__ + "._uploader")
        if _override is not None or _uploader is None:
            return
        uploader = _uploader.uploader
        _uploader._exiting = True  # our threads start no import from now on
        if not uploader.data_dirs:
            return
        if uploader.start():
            ticket = uploader.request()
            if not uploader.threads_refused:
                uploader.wait(ticket, deadline - time.monotonic())
            if uploader.threads_refused:  # no thread starts at exit (Python 3.12.0-3.12.x)
                uploader.send_here(deadline)  # from here, by the same deadline
        # What did not go in time stays in the spool and goes next run.
    except Exception as error:  # noqa: BLE001 - the guard: nothing reaches the host
        _guard.swallow(error)


def _keep_interrupt_status() -> None:
    """Give a host that ended with an unhandled KeyboardInterrupt its own exit status.

    CPython (3.10 to 3.12) exits with SIGINT (status 130) after an unhandled
    KeyboardInterrupt only if no code compiled from a string ran since: an import
    during exit (a namedtuple, in our uploader thread or in an atexit handler)
    resets the flag, and the host exits 1.  Re-raising the interrupt through
    `exec` of a string sets the flag again, exactly as the host's own main module
    did; nothing else happens.
    """
    try:
        if isinstance(getattr(sys, "last_value", None), KeyboardInterrupt) and not (
            sys.flags.interactive or hasattr(sys, "ps1")
        ):
            try:
                exec("raise KeyboardInterrupt", {})  # noqa: S102 - see the docstring
            except KeyboardInterrupt:
                pass
    except Exception as error:  # noqa: BLE001 - the guard: nothing reaches the host
        _guard.swallow(error)


def _after_fork_in_child() -> None:
    """The child starts a period of its own; the parent reports what it recorded."""
    global _activation, _terminating
    _activation = allocate_lock()
    _terminating = False
    _ending.clear()
    try:
        from . import _termination

        _termination.after_fork_in_child()
        from ._uploader import uploader

        uploader._reinit()
        for telemetry in _instances:
            telemetry._lock = allocate_lock()
            telemetry._reset_data()
            if telemetry._on:
                telemetry._on = None  # decide again on first use: restarts the thread
        util = sys.modules.get("multiprocessing.util")
        if util is not None:
            # A multiprocessing child ends with os._exit (no atexit): ask for a finalizer.
            util.register_after_fork(_MP_TOKEN, _register_mp_finalizer)
    except Exception as error:  # noqa: BLE001 - the guard: nothing reaches the host
        _guard.swallow(error)


class _Token:
    pass


_MP_TOKEN = _Token()


_mp_finalizer_pid = None


def _register_mp_finalizer(_token=None) -> None:
    global _mp_finalizer_pid
    util = sys.modules.get("multiprocessing.util")
    if util is not None and _mp_finalizer_pid != os.getpid():
        util.Finalize(None, _at_exit, exitpriority=0)
        _mp_finalizer_pid = os.getpid()


def _register_mp_finalizer_if_child() -> None:
    """A multiprocessing child that first recorded after it started (a forkserver's,
    whose server had not loaded us when it forked) ends with os._exit, which runs
    no atexit handler; its finalizers do run, so ask for one.

    Workers killed by `Pool.terminate()` keep their counts too: see _termination.py.
    """
    if _in_mp_child():
        _register_mp_finalizer()


def _in_mp_child() -> bool:
    process = sys.modules.get("multiprocessing.process")
    return process is not None and process.parent_process() is not None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _reset() -> None:
    """Forget every instance and stop uploading (for sempervirens.testing and our tests)."""
    from . import _uploader

    with _activation:
        for telemetry in _instances:
            telemetry._on = False
            telemetry._reset_data()
        _instances.clear()
    uploader = _uploader.uploader
    uploader.data_dirs.clear()
    uploader.trust.clear()
    uploader.interval = float(_config.number("SEMPERVIRENS_INTERVAL"))
    uploader._next_tick = time.monotonic() + uploader.interval
