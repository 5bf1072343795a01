"""The host behaves as if the client were not there: exit status, imports, fork, prompts."""

import json
import signal
import sys

import pytest
from client_helpers import assert_clean, clean_env, read_spool, run_host

from sempervirens.client import _consent

pytestmark = pytest.mark.slow


def test_unhandled_ctrl_c_right_after_the_first_recording_exits_with_sigint(tmp_path):
    # The uploader thread is still importing when the host dies of the interrupt.
    code = """\
        import sempervirens
        t = sempervirens.Telemetry("hostpkg", version="1", endpoint="http://127.0.0.1:9")
        t.count("x")
        raise KeyboardInterrupt
    """
    for attempt in range(3):
        home = tmp_path / f"home{attempt}"
        result = run_host(code, clean_env(SEMPERVIRENS_HOME=str(home)))
        assert result.returncode == -signal.SIGINT, result.stderr  # a shell shows 130
        assert "SEMPERVIRENS SWALLOWED" not in result.stderr


def test_other_unhandled_errors_keep_their_status(tmp_path):
    code = """\
        import sempervirens
        t = sempervirens.Telemetry("hostpkg", version="1", endpoint="http://127.0.0.1:9")
        t.count("x")
        raise ValueError("the host's own error")
    """
    result = run_host(code, clean_env(SEMPERVIRENS_HOME=str(tmp_path / "home")))
    assert result.returncode == 1 and "the host's own error" in result.stderr


def test_a_refused_client_imports_nothing_on_its_first_recording(tmp_path):
    code = """\
        import sempervirens
        t = sempervirens.Telemetry("hostpkg", version="1", endpoint="http://127.0.0.1:9")
        before = set(sys.modules)
        t.count("x")
        with t.timer("y"):
            pass
        t.flush()
        new = sorted(set(sys.modules) - before)
        import threading
        print(new, threading.active_count())
    """
    result = run_host(code, clean_env(SEMPERVIRENS_HOME=str(tmp_path / "h"), DO_NOT_TRACK="1"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] 1"
    assert not (tmp_path / "h").exists()


def _pythons_with_the_fork_warning() -> list[str]:
    """CPython 3.12+ interpreters on this machine (they warn when forking with threads)."""
    import glob
    import os

    found = [sys.executable] if sys.version_info >= (3, 12) else []
    root = os.path.expanduser(os.environ.get("PYENV_ROOT", "~/.pyenv"))
    for version in ("3.12", "3.13", "3.14"):
        found += sorted(glob.glob(f"{root}/versions/{version}*/bin/python3"))
    return list(dict.fromkeys(found))[:2]


def test_fork_after_recording_is_quiet(tmp_path, server):
    """Once something was counted and sent, the host's os.fork() prints no thread warning."""
    import os
    from pathlib import Path

    import sempervirens as package

    pythons = _pythons_with_the_fork_warning()
    if not pythons:
        pytest.skip("no CPython 3.12+ here: its fork warning is what this test listens for")
    src = str(Path(package.__file__).resolve().parents[1])
    code = f"""\
        import os, threading, warnings
        import sempervirens
        from sempervirens.client import _uploader
        warnings.simplefilter("always")
        t = sempervirens.Telemetry("forky", version="1", endpoint={server.url!r})
        t.opt_in()
        t.count("x")
        t.flush()
        _uploader.uploader.wait(_uploader.uploader.request(), 10)
        for i in range(10):
            pid = os.fork()
            if pid == 0:
                t.count("child")
                os._exit(0)
            assert os.waitpid(pid, 0)[1] == 0
        import gc
        gc.collect()
        print("ticking", _uploader.uploader._ticker is not None)
    """
    for python in pythons:
        home = tmp_path / os.path.basename(os.path.dirname(os.path.dirname(python)))
        env = clean_env(SEMPERVIRENS_HOME=str(home), PYTHONPATH=src)
        result = run_host(code, env, python=(python, "-X", "dev"))
        assert result.returncode == 0, result.stderr
        assert "multi-threaded" not in result.stderr, (python, result.stderr)
        assert "ticking True" in result.stdout  # the ticker is back for the host's long run


@pytest.mark.parametrize("first", ["before the exit", "in an exit handler"])
def test_what_the_hosts_exit_handlers_record_is_in_the_last_ping(tmp_path, closed_port, first):
    """A count of what the run did, made by the host's own exit handler (registered after
    its Telemetry was made), was lost: ours ran first; a host that first recorded there
    sent nothing at all (a handler registered during the exit never runs)."""
    code = f"""\
        import atexit, sempervirens
        t = sempervirens.Telemetry("hostpkg", version="1", endpoint={closed_port!r})
        atexit.register(lambda: t.count("files_written", 3))
        if {first == "before the exit"}:
            t.count("run")
    """
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    _consent.update(str(home), "usage", "hostpkg", _consent.GRANTED)
    assert_clean(run_host(code, clean_env(SEMPERVIRENS_HOME=str(home))))
    counted: dict = {}
    for _, body in read_spool(home):
        for name, n in json.loads(body)["metrics"].get("counters", {}).items():
            counted[name] = counted.get(name, 0) + n
    assert counted == {"files_written": 3, **({"run": 1} if first == "before the exit" else {})}


def test_a_telemetry_never_used_costs_nothing_at_exit(tmp_path):
    code = """\
        import atexit, sempervirens
        atexit.register(lambda: print(sorted(set(sys.modules) - before)))  # runs after ours
        t = sempervirens.Telemetry("hostpkg", version="1", endpoint="http://127.0.0.1:1")
        before = set(sys.modules)
    """
    result = run_host(code, clean_env(SEMPERVIRENS_HOME=str(tmp_path / "h")))
    assert_clean(result)
    assert result.stdout.strip() == "[]" and not (tmp_path / "h").exists()


def test_recording_at_the_hosts_recursion_limit_raises_nothing_and_turns_nothing_off(tmp_path):
    """Scientific code recurses deep (trees, symbolic algebra): a first recording near the
    limit turned the client off for the whole process, and one at the limit raised a
    RecursionError of the client's own into the host."""
    code = """\
        import sempervirens, traceback
        t = sempervirens.Telemetry("hostpkg", version="1", endpoint="http://127.0.0.1:1")

        def deep(n, record):
            if n == 0:
                return record()
            return deep(n - 1, record)

        def timed():
            with t.timer("solve"):
                pass

        ours = 0
        limit = sys.getrecursionlimit()
        for below in range(2, 120):  # every depth near the limit
            for record in (lambda: t.count("deep"), timed, t.flush, lambda: t.enabled):
                try:
                    deep(limit - below, record)
                except RecursionError as error:
                    innermost = traceback.extract_tb(error.__traceback__)[-1].filename
                    ours += "sempervirens" in innermost
        t.count("shallow")
        print("raised by the client:", ours, "enabled:", t.enabled)
    """
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    _consent.update(str(home), "usage", "hostpkg", _consent.GRANTED)
    result = run_host(code, clean_env(SEMPERVIRENS_HOME=str(home)))
    assert_clean(result)
    assert result.stdout.strip() == "raised by the client: 0 enabled: True"
    counted = [json.loads(body)["metrics"].get("counters", {}) for _, body in read_spool(home)]
    assert {"shallow": 1} in counted and sum(c.get("deep", 0) for c in counted) > 0
