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
threads block SIGTERM (_uploader._without_sigterm), so that it lands on the main
thread, the only one that runs Python handlers.
"""

from __future__ import annotations

import os
import signal
from _thread import get_ident

from . import _telemetry

_main_thread = None


def end_periods_on_sigterm() -> None:
    """Called on a multiprocessing child's first recording."""
    global _main_thread
    try:
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)  # ValueError outside the main thread
            _main_thread = get_ident()
    except (ValueError, OSError, AttributeError):
        pass


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
