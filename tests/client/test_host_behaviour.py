"""The host behaves as if the client were not there: exit status, imports, fork, prompts."""

import signal
import sys

import pytest
from client_helpers import clean_env, run_host

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
