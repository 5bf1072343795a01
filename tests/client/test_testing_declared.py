"""sempervirens.testing.check_declared: a project's own tests fail when its code records
something its metrics file does not declare (it would never be published)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import sempervirens
from client_helpers import clean_env
from sempervirens import testing
from sempervirens.model.declarations import DeclarationError, parse

METRICS = """
crash_kinds = ["ValueError", "mypkg.Diverged"]

[metrics."io.read_csv"]
kind = "counter"
description = "Calls of read_csv."

[metrics."io.format"]
kind = "labeled_counter"
description = "Files read, by format."
labels = ["csv", "parquet"]

[metrics.solve]
kind = "timing"
description = "Time in the solver."
"""

# A small instrumented project, as a maintainer writes it.
MYPKG = '''
import sempervirens

telemetry = sempervirens.Telemetry("mypkg", version="1.0")


class Diverged(Exception):
    pass


def read_csv(path, fmt="csv"):
    telemetry.count("io.read_csv")
    telemetry.count("io.format", label=fmt)


def solve():
    with telemetry.timer("solve"):
        return 42


@telemetry.track
def fit():  # counted as "mypkg.fit", which metrics.toml does not declare
    return 1


def crash(error):
    telemetry.report_crash(error)
'''


@pytest.fixture
def metrics_file(tmp_path):
    path = tmp_path / "metrics.toml"
    path.write_text(METRICS, encoding="utf-8")
    return path


@pytest.fixture
def mypkg(tmp_path, monkeypatch):
    (tmp_path / "mypkg.py").write_text(MYPKG, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    import mypkg

    yield mypkg
    del sys.modules["mypkg"]


def test_declared_recordings_pass(home, metrics_file, mypkg):
    with testing.check_declared(metrics_file, project="mypkg") as captured:
        mypkg.read_csv("a.csv")
        mypkg.read_csv("a.parquet", "parquet")
        mypkg.solve()
        mypkg.crash(ValueError("bad"))
        mypkg.crash(mypkg.Diverged("no"))
    assert captured.counters("mypkg") == {"io.read_csv": 2}  # still a capture
    assert captured.labeled_counters("mypkg") == {"io.format": {"csv": 1, "parquet": 1}}
    assert not home.exists()


@pytest.mark.parametrize("code, named", [
    (lambda m: m.fit(), "counter 'mypkg.fit' is not declared"),
    (lambda m: m.read_csv("a.xls", "xls"), "label 'xls' of 'io.format' is not declared"),
    (lambda m: m.telemetry.count("solve"), "counter 'solve' is declared as a timing"),
    (lambda m: m.telemetry.count("io.read_csv", label="csv"),
     "labeled_counter 'io.read_csv' is declared as a counter"),
    (lambda m: m.telemetry.timer("io.other").__enter__().__exit__(), "timing 'io.other' is not declared"),
    (lambda m: m.crash(KeyError("k")), "crash kind 'KeyError' is not declared"),
])
def test_an_undeclared_recording_fails_naming_it(home, metrics_file, mypkg, code, named):
    with pytest.raises(AssertionError) as failure:
        with testing.check_declared(str(metrics_file), project="mypkg"):
            mypkg.read_csv("a.csv")  # declared: not named
            code(mypkg)
    message = str(failure.value)
    assert message.startswith(f"recorded but not declared in {metrics_file}: ")
    assert message.endswith(named) and "io.read_csv' is not" not in message


def test_other_projects_are_not_checked_when_one_is_named(home, metrics_file, mypkg):
    other = sempervirens.Telemetry("otherlib", version="1.0")
    with testing.check_declared(metrics_file, project="mypkg"):
        other.count("anything.at_all")
        mypkg.read_csv("a.csv")
    with pytest.raises(AssertionError, match="counter 'anything.at_all' is not declared"):
        with testing.check_declared(metrics_file):  # every project
            other.count("anything.at_all")


def test_a_declaration_object_and_capture_undeclared_work_too(home, mypkg):
    declaration = parse(METRICS)
    with testing.capture() as captured:
        mypkg.fit()
        mypkg.read_csv("x", "xls")
    assert captured.undeclared(declaration, "mypkg") == [
        "counter 'mypkg.fit' is not declared", "label 'xls' of 'io.format' is not declared"]
    with pytest.raises(AssertionError, match="in the declaration: counter 'mypkg.fit'"):
        with testing.check_declared(declaration):
            mypkg.fit()


def test_an_invalid_metrics_file_fails_before_the_test_runs(home, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[metrics."Bad Name"]\nkind = "counter"\ndescription = "x"', encoding="utf-8")
    ran = []
    with pytest.raises(DeclarationError, match="bad.toml: metrics.'Bad Name'"):
        with testing.check_declared(bad):
            ran.append(1)
    assert ran == []


def test_an_error_in_the_block_is_not_hidden(home, metrics_file, mypkg):
    with pytest.raises(ZeroDivisionError):
        with testing.check_declared(metrics_file):
            mypkg.fit()
            1 / 0


def test_a_maintainers_suite_fails_on_undeclared_names(tmp_path, metrics_file):
    """The whole story in a real pytest run of a project's own tests."""
    (tmp_path / "mypkg.py").write_text(MYPKG, encoding="utf-8")
    (tmp_path / "conftest.py").write_text(textwrap.dedent(f"""
        import pytest
        from sempervirens import testing

        @pytest.fixture(autouse=True)
        def declared_only():
            with testing.check_declared({str(metrics_file)!r}, project="mypkg"):
                yield
    """), encoding="utf-8")
    (tmp_path / "test_mypkg.py").write_text(textwrap.dedent("""
        import mypkg

        def test_read():
            mypkg.read_csv("a.csv")
            assert mypkg.solve() == 42

        def test_fit():
            assert mypkg.fit() == 1
    """), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "-p", "no:randomly", "-o", "addopts=", "test_mypkg.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env=clean_env(SEMPERVIRENS_HOME=str(tmp_path / "home"), PYTHONPATH=str(tmp_path)))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 passed, 1 error" in result.stdout, result.stdout  # test_fit passes, then errs
    assert "ERROR at teardown of test_fit" in result.stdout
    assert "AssertionError: recorded but not declared in" in result.stdout
    assert "counter 'mypkg.fit' is not declared" in result.stdout
    assert not (tmp_path / "home").exists()
