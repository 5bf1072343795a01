"""The one guard: no exception of the client ever reaches its host program.

Every public entry point runs inside `guarded` (or, on the hot path, an inline
try/except that calls `swallow`).  A swallowed exception is logged at debug level
and, when a test suite asked for it, kept so that the suite can re-raise it: bugs
must still fail our tests even though they never fail a user's program.
"""

from __future__ import annotations

import sys

_kept: list[BaseException] | None = None  # None: not keeping (production)


class _Silent:
    def debug(self, *args, **kwargs) -> None:
        pass

    info = warning = debug


def logger():
    """The `sempervirens` logger, if the host uses logging at all.

    The client never imports `logging` itself: it costs the host milliseconds, and
    an import from the uploader thread would race with a fork (logging registers
    fork handlers in the middle of its import).  A host that has not imported
    logging has no handler that would show our debug messages anyway.
    """
    logging = sys.modules.get("logging")
    if logging is None:
        return _Silent()
    return logging.getLogger("sempervirens")


def swallow(error: BaseException) -> None:
    try:
        if _kept is not None:
            _kept.append(error)
        logger().debug("sempervirens: internal error swallowed", exc_info=error)
    except Exception:  # noqa: BLE001, S110 - even logging may fail at interpreter shutdown
        pass


def guarded(default=None):
    """Decorator: run the function, never raise; return `default` on failure."""

    def decorate(func):
        def wrapper(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except RecursionError:
                return default  # the host's stack is full: even logging it would raise
            except Exception as error:  # noqa: BLE001 - the guard: nothing reaches the host
                swallow(error)
                return default

        # Not functools.wraps: functools is not loaded in a bare interpreter.
        wrapper.__name__, wrapper.__qualname__ = func.__name__, func.__qualname__
        wrapper.__doc__, wrapper.__wrapped__ = func.__doc__, func
        return wrapper

    return decorate


class Guard:
    """`with Guard():` — the statement form of `guarded`."""

    __slots__ = ()

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if kind is not None and issubclass(kind, Exception):
            if kind is not RecursionError:  # a full stack: even logging it would raise
                swallow(error)
            return True
        return False


guard = Guard()


def keep_swallowed(enabled: bool = True) -> None:
    """For test suites: keep swallowed exceptions so that `take_swallowed` returns them."""
    global _kept
    _kept = [] if enabled else None


def take_swallowed() -> list[BaseException]:
    global _kept
    if _kept is None:
        return []
    taken, _kept = _kept, []
    return taken


def report_swallowed_at_exit() -> None:
    """For host programs run by our tests: print swallowed exceptions last thing at exit."""
    import atexit
    import traceback

    keep_swallowed(True)

    def report():
        for error in take_swallowed():
            sys.stderr.write("SEMPERVIRENS SWALLOWED: ")
            sys.stderr.write("".join(traceback.format_exception(error)))

    atexit.register(report)  # registered first, so it runs after the client's own handler
