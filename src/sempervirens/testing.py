"""For projects that embed Sempervirens: turn it off, or look at what it records, in tests.

In a project's conftest.py::

    import pytest
    from sempervirens import testing

    @pytest.fixture(autouse=True)
    def no_telemetry():
        with testing.disabled():      # nothing recorded, no file, no thread, no network
            yield

and in a test that checks the project's instrumentation::

    def test_read_csv_is_counted():
        with testing.capture() as captured:
            mypkg.read_csv("data.csv")
        assert captured.counters("mypkg")["io.read_csv"] == 1

and, to fail a test whose code records a name the project's metrics file does not
declare (it would never be published): `with testing.check_declared("metrics.toml",
project="mypkg"): ...` (also as an autouse fixture; see check_declared).

While a helper is active, the user's consent and environment are not consulted and
nothing is written or sent: what is recorded stays in memory.  Setting
SEMPERVIRENS_OPT_OUT=1 for a whole test run is the other way to turn it off.
"""

from __future__ import annotations

import contextlib

from .client import _telemetry, _wire

__all__ = ["Capture", "capture", "check_declared", "disabled"]


class Capture:
    """What the project's `Telemetry` objects recorded while capturing, by project."""

    def __init__(self) -> None:
        self._recorded: dict = {}  # project -> (counters, labeled, timings)
        self.crashes: list[
            dict
        ] = []  # {"project", "exception_type", "traceback"} as it would be sent

    def _collect(self, telemetry, counters: dict, timings: dict) -> None:
        plain, labeled, durations = self._recorded.setdefault(telemetry.project, ({}, {}, {}))
        for key, n in counters.items():
            if type(key) is tuple:
                labels = labeled.setdefault(key[0], {})
                labels[key[1]] = labels.get(key[1], 0) + n
            else:
                plain[key] = plain.get(key, 0) + n
        for name, (n, sum_us, buckets) in timings.items():
            durations[name] = durations.get(name, 0) + n

    def _flush(self) -> None:
        for telemetry in list(_telemetry._instances):
            telemetry._end_period()

    def counters(self, project: str | None = None) -> dict:
        """{name: count} recorded so far (of one project, or of all added up)."""
        return self._section(0, project)

    def labeled_counters(self, project: str | None = None) -> dict:
        """{name: {label: count}}."""
        return self._section(1, project)

    def timings(self, project: str | None = None) -> dict:
        """{name: number of timed calls}."""
        return self._section(2, project)

    def invalid_names(self, project: str | None = None) -> list[str]:
        """Recorded names the protocol would refuse (they would be dropped, not sent)."""
        names = (
            set(self.counters(project))
            | set(self.labeled_counters(project))
            | set(self.timings(project))
        )
        return sorted(str(n) for n in names if not _wire.valid_name(n))

    def undeclared(self, declaration, project: str | None = None) -> list[str]:
        """What was recorded that `declaration` (a Declaration, or the path of a metrics
        file) does not declare, one line each: it would never be published."""
        if not hasattr(declaration, "allows"):
            declaration = _load_declaration(declaration)
        kinds = ((0, "counter"), (1, "labeled_counter"), (2, "timing"))
        found = []
        for index, kind in kinds:
            recorded = self._section(index, project)
            for name, value in sorted(recorded.items(), key=lambda item: str(item[0])):
                declared = declaration.by_name.get(name)
                if declared is None:
                    found.append(f"{kind} {name!r} is not declared")
                elif declared.kind != kind:
                    found.append(f"{kind} {name!r} is declared as a {declared.kind}")
                elif index == 1:
                    found += [f"label {label!r} of {name!r} is not declared"
                              for label in sorted(value, key=str) if label not in declared.labels]
        for crash in self.crashes:
            if (project is None or crash["project"] == project) \
                    and crash["exception_type"] not in declaration.crash_kinds:
                found.append(f"crash kind {crash['exception_type']!r} is not declared")
        return list(dict.fromkeys(found))

    def _section(self, index: int, project: str | None) -> dict:
        self._flush()
        merged: dict = {}
        for name, sections in self._recorded.items():
            if project is not None and name != project:
                continue
            for key, value in sections[index].items():
                if index == 1:
                    labels = merged.setdefault(key, {})
                    for label, n in value.items():
                        labels[label] = labels.get(label, 0) + n
                else:
                    merged[key] = merged.get(key, 0) + value
        return merged


def _switch(override) -> None:
    with _telemetry._activation:
        _telemetry._override = override
        for telemetry in _telemetry._instances:
            telemetry._reset_data()
            telemetry._on = None  # decide again, under the new rule, on the next recording


@contextlib.contextmanager
def disabled():
    """Nothing is recorded, written or sent inside this block.

    Raises ValueError at once if a `Telemetry` was created with a configuration
    mistake (see `capture`), so that a project's own test suite fails on it.
    """
    _raise_configuration_mistakes()
    previous = _telemetry._override
    _switch("disabled")
    try:
        yield
    finally:
        _switch(previous)


def _raise_configuration_mistakes() -> None:
    mistakes = [
        f"Telemetry({t.project!r}): " + "; ".join(t.problems)
        for t in list(_telemetry._instances)
        if getattr(t, "problems", None)
    ]
    if mistakes:
        raise ValueError("sempervirens is misconfigured: " + " | ".join(mistakes))


@contextlib.contextmanager
def capture():
    """Record in memory only, and give the recordings to the test; nothing is written or sent.

    Raises ValueError at once if a `Telemetry` was created with a configuration
    mistake (a bad project name, consent mode, endpoint, interval or exit timeout):
    such a Telemetry collects nothing for real users.
    """
    _raise_configuration_mistakes()
    previous = _telemetry._override
    captured = Capture()
    _switch(captured)
    try:
        yield captured
    finally:
        captured._flush()
        _switch(previous)


@contextlib.contextmanager
def check_declared(metrics_file, project: str | None = None):
    """`capture()`, then AssertionError if the block recorded anything the metrics file
    (a path, or a Declaration) does not declare: a metric, a label or a crash kind.

    In a project's conftest.py, every test checks its instrumentation::

        @pytest.fixture(autouse=True)
        def declared_only():
            with testing.check_declared("metrics.toml", project="mypkg"):
                yield
    """
    given = hasattr(metrics_file, "allows")
    declaration = metrics_file if given else _load_declaration(metrics_file)
    with capture() as captured:
        yield captured
    problems = captured.undeclared(declaration, project)
    if problems:
        where = "the declaration" if given else metrics_file
        raise AssertionError(f"recorded but not declared in {where}: " + "; ".join(problems))


def _load_declaration(path):
    from .model.declarations import parse

    with open(path, encoding="utf-8") as file:
        return parse(file.read(), str(path))
