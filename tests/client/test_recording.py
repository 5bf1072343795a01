"""Recording in a host process: exact under threads, free when refused, never raising."""

import json
import threading
import time

import pytest
from client_helpers import read_spool, spooled

import sempervirens
from sempervirens.client import _guard, _telemetry
from sempervirens.protocol import validate_ping


def _read_usage(data_dir):
    return [
        validate_ping(header["ping_type"], json.loads(body))
        for header, body in read_spool(data_dir)
    ]


def test_counts_from_many_threads_are_exact(home):
    telemetry = sempervirens.Telemetry("threaded", version="1.0", endpoint="http://127.0.0.1:9")

    def work():
        for _ in range(5000):
            telemetry.count("calls")
            telemetry.count("io.read", label="csv")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    telemetry._end_period()
    [ping] = _read_usage(home)
    assert ping.metrics["counters"]["calls"] == 40000
    assert ping.metrics["labeled_counters"]["io.read"]["csv"] == 40000


def test_timer_and_track_record_what_a_maintainer_expects(home):
    telemetry = sempervirens.Telemetry("timed", version="1.0", endpoint="http://127.0.0.1:9")

    @telemetry.track
    def fit(x):
        """Fit the model."""
        return x * 2

    @telemetry.timer("solve")
    def solve():
        time.sleep(0.002)

    assert fit(21) == 42 and fit.__doc__ == "Fit the model." and fit.__name__ == "fit"
    solve()
    with telemetry.timer("solve"):
        pass
    telemetry._end_period()
    [ping] = _read_usage(home)
    # The module's name depends on pytest's import mode; the rest is the qualified name.
    assert ping.metrics["counters"] == {
        f"{__name__}.test_timer_and_track_record_what_a_maintainer_expects.fit": 1
    }
    solve_timing = ping.metrics["timings"]["solve"]
    assert solve_timing["count"] == 2 and solve_timing["sum_us"] >= 2000
    # 2 ms lands in bucket floor(4 * log2(2000)) = 43 or above.
    assert max(int(b) for b in solve_timing["buckets"]) >= 43


def test_track_with_an_explicit_name(home):
    telemetry = sempervirens.Telemetry("named", version="1.0", endpoint="http://127.0.0.1:9")
    fit = telemetry.track(name="api.fit")(lambda: 1)
    fit()
    fit()
    telemetry._end_period()
    assert _read_usage(home)[0].metrics["counters"] == {"api.fit": 2}


def test_refused_recording_writes_nothing_and_keeps_nothing(home, monkeypatch):
    """Refused, a recording call returns at its first check: no lock, no counter, no
    file.  What it costs is measured by `make bench-client` ("sempervirens count, user
    opted out", docs/performance.md), not timed here."""
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    telemetry = sempervirens.Telemetry("refused", version="1.0")
    for _ in range(1000):
        telemetry.count("x")
        telemetry.count("y", label="z")
    with telemetry.timer("t"):
        pass
    assert telemetry._on is False  # decided once: every later call stops at this flag
    assert telemetry._counters == {} and telemetry._timings == {} and telemetry._pending == []
    _telemetry._at_exit()
    assert not home.exists()  # not even a data directory


def test_misuse_never_raises_into_the_host(home):
    telemetry = sempervirens.Telemetry("misused", version="1.0", endpoint="http://127.0.0.1:9")
    telemetry.count("x")
    telemetry.count("x", n="three")  # TypeError inside: swallowed
    assert telemetry.report_crash("not an exception") is False
    swallowed = _guard.take_swallowed()
    assert [type(e) for e in swallowed] == [TypeError]
    telemetry.count(None)  # dropped when the ping is built, counted
    telemetry.count("Not A Name")
    telemetry._end_period()
    [ping] = _read_usage(home)
    assert ping.dropped == {"invalid_name": 2}
    assert ping.metrics["counters"] == {"x": 1}


def test_bad_project_name_disables_without_raising(home):
    with pytest.warns(UserWarning, match="not a project name"):
        telemetry = sempervirens.Telemetry("not a project!", version="1.0")
    telemetry.count("x")
    assert telemetry.enabled is False and not home.exists()


def test_memory_is_bounded_when_labels_come_from_data(home):
    telemetry = sempervirens.Telemetry("labels", version="1.0", endpoint="http://127.0.0.1:9")
    for i in range(10_000):
        telemetry.count("io.read", label=f"file{i}")
    assert len(telemetry._counters) <= 2000
    telemetry._end_period()
    [ping] = _read_usage(home)
    assert len(ping.metrics["labeled_counters"]["io.read"]) == 100
    assert ping.dropped["too_many_metrics"] == 10_000 - 100


def test_nothing_is_reported_for_a_project_that_recorded_nothing(home):
    sempervirens.Telemetry("idle", version="1.0")
    _telemetry._at_exit()
    assert not home.exists()


def test_periodic_pings_in_a_long_running_process(home, closed_port):
    telemetry = sempervirens.Telemetry("server", version="1.0", endpoint=closed_port, interval=0.2)
    telemetry.count("request")
    deadline = time.monotonic() + 10
    while not spooled(home) and time.monotonic() < deadline:
        time.sleep(0.05)
    telemetry.count("request")
    while len(spooled(home)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    pings = _read_usage(home)
    assert len(pings) >= 2  # one per period, each with that period's counts
    assert sum(p.metrics["counters"]["request"] for p in pings) == 2
    assert all(p.period_end >= p.period_start for p in pings)


@pytest.mark.parametrize("variable", ["SEMPERVIRENS_OPT_OUT", "DO_NOT_TRACK"])
@pytest.mark.parametrize("value", ["1", "true", "yes", " TRUE ", "2", "always", "enabled", "t"])
def test_sempervirens_opt_out_variable(home, monkeypatch, variable, value):
    # Any value but an explicit no refuses: DO_NOT_TRACK=2 or =always was collected.
    monkeypatch.setenv(variable, value)
    telemetry = sempervirens.Telemetry("optout", version="1.0")
    telemetry.count("x")
    assert telemetry.enabled is False and not home.exists()


@pytest.mark.parametrize("value", ["", "0", "false", "No", "off"])
def test_a_refusing_variable_set_to_no_does_not_refuse(home, monkeypatch, value):
    monkeypatch.setenv("DO_NOT_TRACK", value)
    telemetry = sempervirens.Telemetry("optout", version="1.0", endpoint="http://127.0.0.1:9")
    telemetry.count("x")
    assert telemetry.enabled is True


def test_recording_from_a_signal_handler_never_deadlocks(tmp_path):
    """A handler that records while the interrupted main thread is inside count()."""
    from client_helpers import clean_env, run_host

    home = tmp_path / "home"
    code = """\
        import signal
        import sempervirens
        t = sempervirens.Telemetry("sigpkg", version="1", endpoint="http://127.0.0.1:9")
        handled = 0
        def handler(signum, frame):
            global handled
            handled += 1
            t.count("signal")
            with t.timer("in_handler"):
                pass
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
        loops = 0
        while handled < 3000 and loops < 20_000_000:
            t.count("main")
            t.count("main.labeled", label="x")
            loops += 1
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        print(loops, handled)
    """
    result = run_host(code, clean_env(SEMPERVIRENS_HOME=str(home)), timeout=60)
    assert result.returncode == 0, result.stderr
    loops, handled = map(int, result.stdout.split())
    assert handled >= 3000  # one more may fire before the timer is stopped
    [(header, body)] = read_spool(home)
    metrics = json.loads(body)["metrics"]
    assert metrics["counters"] == {"main": loops, "signal": handled}
    assert metrics["labeled_counters"] == {"main.labeled": {"x": loops}}
    assert metrics["timings"]["in_handler"]["count"] == handled


def test_a_misuse_set_aside_while_the_lock_was_busy_is_lost_alone(home):
    """A recording that finds the lock busy (another thread, or the code a signal handler
    interrupted) is added when the period ends: a misused one failed that, and every
    later period of the process, so the host reported nothing more."""
    telemetry = sempervirens.Telemetry("misused", version="1.0", endpoint="http://127.0.0.1:9")
    telemetry.count("x")
    assert telemetry._lock.acquire(False)  # held, as by another thread
    try:
        telemetry.count("x", n="three")  # set aside: they cannot be added
        telemetry.count(["not", "hashable"])
        telemetry.count("x")
        with telemetry.timer("solve"):
            pass
    finally:
        telemetry._lock.release()
    telemetry._end_period()
    assert [type(e) for e in _guard.take_swallowed()] == [TypeError, TypeError]
    telemetry.count("x")
    telemetry._end_period()
    # Both periods' pings, in either order: they may be spooled in the same millisecond.
    first, second = sorted(_read_usage(home), key=lambda ping: "timings" not in ping.metrics)
    assert first.metrics["counters"] == {"x": 2} and first.metrics["timings"]["solve"]["count"] == 1
    assert second.metrics["counters"] == {"x": 1}
