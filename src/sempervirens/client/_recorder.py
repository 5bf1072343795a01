"""Recording: in-memory updates under one lock, turned into wire metrics per period.

This is the hot path a project calls from its own hot paths, so each call is a
branch, a lock and a dict update; names are checked once per period, when the
ping is built, not on every call.  `Recorder` is the base of `Telemetry`, which
supplies `_on` (True: record; False: ignore; None: not decided yet) and
`_activate()` (decides on first use).
"""

from __future__ import annotations

import time
from _thread import allocate_lock  # not `threading`: it costs the host milliseconds to import

from . import _guard, _wire

# Distinct keys kept in memory between two pings: a label made from a file name
# in a loop must not grow the host's memory without bound.
MAX_KEYS = 2 * _wire.MAX_METRICS
# Updates that found the lock busy (another thread, or a signal handler that
# interrupted this thread inside a recording) wait here until the next ping.
MAX_PENDING = 100_000
FOLD_PENDING = 1024


class _Timer:
    """What `timer()` returns: a context manager, and a decorator.

    Whether to record is decided when a block is entered, never when `timer()`
    is called: `@telemetry.timer("solve")` runs at import, and the user's consent
    (or an opt-in, an opt-out) may change after that.
    """

    __slots__ = ("_name", "_recorder", "_start")

    def __init__(self, recorder: Recorder, name: str) -> None:
        self._recorder, self._name = recorder, name

    def __enter__(self):
        recorder = self._recorder
        self._start = None
        try:
            if recorder._on or (recorder._on is None and recorder._activate()):
                self._start = time.perf_counter_ns()
        except RecursionError:
            pass  # the host's stack is full here (see Recorder.count): not timed
        return self

    def __exit__(self, *exc):
        start = self._start
        if start is not None:
            try:
                self._recorder._add_timing(self._name, (time.perf_counter_ns() - start) / 1000)
            except RecursionError:
                pass
            except Exception as error:  # noqa: BLE001 - the guard: nothing reaches the host
                _guard.swallow(error)
        return False

    def __call__(self, func):
        """Also a decorator: `@telemetry.timer("solve")` times every call."""
        recorder, name = self._recorder, self._name

        def timed(*args, **kwargs):
            with _Timer(recorder, name):
                return func(*args, **kwargs)

        return _wraps(timed, func)


class _Untimed:
    """What `timer()` returns when not even a _Timer can be made: times nothing."""

    __slots__ = ()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, func):
        return func


_UNTIMED = _Untimed()


def _wraps(wrapper, func):
    try:
        import functools

        return functools.update_wrapper(wrapper, func)
    except Exception:  # noqa: BLE001 - an object without __name__ and friends
        return wrapper


class Recorder:
    _on: bool | None = None

    def __init__(self) -> None:
        self._lock = allocate_lock()
        self._reset_data()

    def _reset_data(self) -> None:
        self._counters: dict = {}  # name or (name, label) -> int
        self._timings: dict = {}  # name -> [count, sum_us, {bucket: n}]
        self._overflow = 0  # updates refused because MAX_KEYS was reached
        self._pending: list = []  # (key, n) or (("timing", name), duration_us), lock-free
        self._period_start = time.time()

    def _activate(self) -> bool:  # pragma: no cover - Telemetry overrides
        return False

    # -- the recording API ----------------------------------------------------

    def count(self, name: str, n: int = 1, *, label: str | None = None) -> None:
        """Add `n` to counter `name` (or to its `label`, for a labeled counter)."""
        try:
            if not (self._on or (self._on is None and self._activate())):
                return
            key = name if label is None else (name, label)
            lock = self._lock
            # Never wait for the lock: its holder may be this very thread,
            # interrupted by a signal handler that records too.  A busy lock
            # sends the update to `_pending` (list.append is atomic).
            if lock.acquire(False):
                try:
                    counters = self._counters
                    value = counters.get(key)
                    if value is not None:
                        counters[key] = value + n
                    elif len(counters) < MAX_KEYS:
                        counters[key] = n
                    else:
                        self._overflow += 1
                finally:
                    lock.release()
            else:
                self._defer(key, n)
        except RecursionError:
            # The host recorded with its stack full (deep in its own recursion): any
            # call of ours, even the guard's, would raise again.  This one is lost.
            pass
        except Exception as error:  # noqa: BLE001 - the guard: nothing reaches the host
            _guard.swallow(error)

    def _defer(self, key, n) -> None:
        pending = self._pending
        if len(pending) < MAX_PENDING:
            pending.append((key, n))
        else:
            self._overflow += 1  # racy but bounded: at worst a drop is miscounted by one
        # Under heavy contention, fold the backlog in whenever the lock is free (never
        # wait: the holder may be this thread itself, interrupted by a signal handler).
        if len(pending) >= FOLD_PENDING and self._lock.acquire(False):
            try:
                self._merge_pending()
            finally:
                self._lock.release()

    def timer(self, name: str):
        """`with telemetry.timer("solve"): ...` records the block's duration."""
        try:
            return _Timer(self, name)
        except RecursionError:
            return _UNTIMED  # the host's stack is full (see count): this block is not timed

    def track(self, func=None, *, name: str | None = None):
        """Decorator counting the calls of a function: `@telemetry.track`.

        The counter is `name`, or the function's module and qualified name
        (`mypkg.io.read_csv`), lower-cased.
        """
        if func is None:
            return lambda f: self.track(f, name=name)
        try:
            key = name or _function_name(func)
        except Exception as error:  # noqa: BLE001 - the guard: nothing reaches the host
            _guard.swallow(error)
            return func
        count = self.count

        def tracked(*args, **kwargs):
            count(key)
            return func(*args, **kwargs)

        return _wraps(tracked, func)

    def _add_timing(self, name: str, duration_us: float) -> None:
        lock = self._lock
        if not lock.acquire(False):
            self._defer(_TimingKey(name), duration_us)
            return
        try:
            self._merge_timing(name, duration_us)
        finally:
            lock.release()

    def _merge_timing(self, name: str, duration_us: float) -> None:
        bucket = _wire.timing_bucket(duration_us)
        timing = self._timings.get(name)
        if timing is None:
            if len(self._timings) >= MAX_KEYS:
                self._overflow += 1
                return
            timing = self._timings[name] = [0, 0, {}]
        timing[0] += 1
        timing[1] += int(duration_us)
        buckets = timing[2]
        buckets[bucket] = buckets.get(bucket, 0) + 1

    def _merge_pending(self) -> None:
        """Fold the deferred updates in; called with the lock held."""
        pending = self._pending
        counters = self._counters
        while pending:
            try:
                key, n = pending.pop()  # atomic: an append meanwhile stays for next time
            except IndexError:
                break
            try:
                if type(key) is _TimingKey:
                    self._merge_timing(key.name, n)
                elif key in counters:
                    counters[key] += n
                elif len(counters) < MAX_KEYS:
                    counters[key] = n
                else:
                    self._overflow += 1
            except Exception as error:  # noqa: BLE001 - the guard: nothing reaches the host
                # A misuse set aside while the lock was busy (count("x", n="three"), an
                # unhashable name) is lost alone, as it would have been at once; raised
                # here, it failed every later period of the process.
                _guard.swallow(error)

    # -- from memory to the wire ---------------------------------------------

    def _take(self) -> tuple[dict, dict, int, float]:
        """Swap out what was recorded since the last ping (counters, timings, overflow, start).

        Called from the uploader thread, at exit or from `flush()`, which a signal
        handler may call while this thread is inside a recording: the lock is
        waited for a bounded time only, and an empty period is returned if it
        stays busy (what was recorded goes with the next ping).
        """
        if not self._lock.acquire(True, 0.5):
            return {}, {}, 0, self._period_start
        try:
            self._merge_pending()
            taken = (self._counters, self._timings, self._overflow, self._period_start)
            pending = self._pending  # survives the reset: appends may race with it
            self._reset_data()
            self._pending = pending
        finally:
            self._lock.release()
        return taken

    def _has_data(self) -> bool:
        return bool(self._counters or self._timings or self._pending)


class _TimingKey:
    """A deferred timing in `_pending`, told apart from a counter's key by its type."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _function_name(func) -> str:
    module = getattr(func, "__module__", None) or ""
    raw = func.__qualname__ if module == "__main__" else f"{module}.{func.__qualname__}"
    raw = raw.replace("<locals>.", "").lower()
    name = "".join(c if c in "abcdefghijklmnopqrstuvwxyz0123456789_." else "_" for c in raw)
    # Each dotted part must start with a letter, digit or '_' after a dot; drop dunder edges.
    parts = [p.strip("_") for p in name.split(".")]
    return ".".join(p for p in parts if p) or "function"


def wire_metrics(counters: dict, timings: dict, overflow: int) -> tuple[dict, dict]:
    """(metrics, dropped): the wire form of one period, with what could not be sent counted."""
    dropped: dict = {}

    def drop(reason: str, n: int = 1) -> None:
        dropped[reason] = dropped.get(reason, 0) + n

    if overflow:
        drop("too_many_metrics", overflow)
    plain: dict = {}
    labeled: dict = {}
    total = 0
    for key, value in counters.items():
        name, label = (key, None) if type(key) is not tuple else key
        if not _wire.valid_name(name):
            drop("invalid_name")
            continue
        if type(value) is not int or value < 0:
            drop("invalid_count")
            continue
        value = min(value, _wire.MAX_COUNT)
        if label is None:
            if total >= _wire.MAX_METRICS:
                drop("too_many_metrics")
                continue
            plain[name] = value
        else:
            if not _wire.valid_label(label):
                drop("invalid_label")
                continue
            labels = labeled.setdefault(name, {})
            if len(labels) >= _wire.MAX_LABELS_PER_METRIC or total >= _wire.MAX_METRICS:
                drop("too_many_metrics")
                continue
            labels[label] = value
        total += 1
    wire_timings: dict = {}
    for name, (n, sum_us, buckets) in timings.items():
        if not _wire.valid_name(name):
            drop("invalid_name")
            continue
        if total >= _wire.MAX_METRICS:
            drop("too_many_metrics")
            continue
        wire_timings[name] = {
            "count": min(n, _wire.MAX_COUNT),
            "sum_us": min(sum_us, _wire.MAX_COUNT),
            "buckets": {str(b): c for b, c in sorted(buckets.items())},
        }
        total += 1
    metrics: dict = {}
    if plain:
        metrics["counters"] = plain
    if labeled:
        metrics["labeled_counters"] = {k: v for k, v in labeled.items() if v}
    if wire_timings:
        metrics["timings"] = wire_timings
    return metrics, dropped
