"""Keep the counts of a multiprocessing child that is terminated.

Leaving `with Pool() as pool:` calls `pool.terminate()`, which sends SIGTERM to
the workers: by default that runs nothing, and what a worker recorded since its
last period would be lost, whatever the start method.  So in a multiprocessing
child whose SIGTERM still has its default action, the first recording installs a
handler that ends the periods (their pings go to the spool; no upload is waited
for), then restores the default action and sends itself SIGTERM again: the
process dies as it would have, with the same status.  A period being written
when the signal comes (a worker exiting normally, the ticker) is finished first.
A host that sets its own SIGTERM handler, before or after, keeps it.  A worker
inside a long call into C code runs the handler when the call returns.  Our own
threads are born blocking SIGTERM (_uploader._born_without_sigterm), so that it lands
on the main thread, the only one that runs Python handlers.

CPython runs a Python handler only when the main thread runs Python code.  A SIGTERM
that comes just before the main thread blocks in a system call (an idle pool worker
about to wait for its next task) is noted, but its handler waits for the call to
return: for ever, and `pool.terminate()` with it (1 run in ~120 under load).  So a
thread of ours reads the signal numbers CPython writes to its wakeup fd; when a
SIGTERM's handler has not run a moment later, it signals the main thread again, which
interrupts the call.  A host that set a wakeup fd of its own (asyncio) keeps it.
"""

from __future__ import annotations

import _thread
import os
import signal
import time
from _thread import get_ident

from . import _telemetry

_main_thread = None
_wakeups: tuple[int, int] | None = None  # the pipe of the wakeup fd we watch (read, write)
KICK_AFTER = 0.5  # seconds a SIGTERM's handler has to start before the main thread is kicked


def end_periods_on_sigterm() -> None:
    """Called on a multiprocessing child's first recording."""
    global _main_thread
    try:
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)  # ValueError outside the main thread
            _main_thread = get_ident()
            _watch_wakeups()
    except (ValueError, OSError, AttributeError):
        pass


def _watch_wakeups() -> None:
    global _wakeups
    read, write = os.pipe()
    os.set_blocking(write, False)  # as CPython requires of a wakeup fd
    previous = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    if previous != -1:  # the host's own: left to it
        signal.set_wakeup_fd(previous)
        os.close(read)
        os.close(write)
        return
    _wakeups = (read, write)
    from ._uploader import _born_without_sigterm

    _born_without_sigterm(_thread.start_new_thread, _watch, (read,))


def _watch(read: int) -> None:
    while True:
        try:
            signals = os.read(read, 64)
        except OSError:
            return
        if not signals:
            return
        if signal.SIGTERM in signals:
            time.sleep(KICK_AFTER)
            if not _telemetry._terminating and signal.getsignal(signal.SIGTERM) is _on_sigterm:
                signal.pthread_kill(_main_thread, signal.SIGTERM)


def after_fork_in_child() -> None:
    """The child's signals are not the parent's: its watcher would kick the parent."""
    global _wakeups
    if _wakeups is None:
        return
    try:
        previous = signal.set_wakeup_fd(-1)
        if previous != _wakeups[1]:  # set by the host since: its own
            signal.set_wakeup_fd(previous)
    except ValueError:  # not the main thread
        pass
    for fd in _wakeups:
        try:
            os.close(fd)
        except OSError:
            pass
    _wakeups = None


def _on_sigterm(signum, frame) -> None:
    _telemetry._terminating = True
    if _telemetry._ending:
        return  # periods are being written (maybe by the code we interrupted): it dies after
    _telemetry._end_periods()  # ... and dies when they are written


def die() -> None:
    """SIGTERM with its default action: the death that was asked for."""
    if get_ident() == _main_thread:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
    else:
        # To the main thread itself (a signal interrupts only the system call of the
        # thread it lands on): our handler there writes what is left, then comes back.
        signal.pthread_kill(_main_thread, signal.SIGTERM)
