"""Host programs in subprocesses against the real collection server on loopback."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from client_helpers import assert_clean, clean_env, read_spool, run_host, spooled, start_host

from sempervirens.client._identity import is_uuid4

pytestmark = pytest.mark.slow

HOST = """\
import sempervirens
telemetry = sempervirens.Telemetry("hostpkg", version="2.1.0", endpoint=ENDPOINT)
telemetry.count("io.read_csv")
telemetry.count("io.read", label="csv")
with telemetry.timer("solve"):
    pass
"""


def _host(endpoint: str, extra: str = "") -> str:
    return f"ENDPOINT = {endpoint!r}\n" + HOST + extra


def _env(home, **extra):
    # Delivery tests let the host wait for its upload (the 100 ms default is tested
    # on its own below): a loaded CI machine may need longer than that to send.
    extra.setdefault("SEMPERVIRENS_EXIT_TIMEOUT", "10")
    return clean_env(SEMPERVIRENS_HOME=str(home), **extra)


def _wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


def test_delivered_over_http_at_exit(tmp_path, server):
    home = tmp_path / "home"
    result = run_host(_host(server.url), _env(home))
    assert_clean(result)
    assert "sempervirens opt-out hostpkg" in result.stderr  # the one-time notice...
    assert result.stdout == ""
    assert server.pings() == []  # ...and nothing leaves on the run that showed it
    second = run_host(_host(server.url), _env(home))
    assert_clean(second)
    assert second.stderr == ""
    [ping, ping2] = _wait_for(lambda: len(server.pings()) == 2 and server.pings()) or server.pings()
    assert {p["ping_type"] for p in (ping, ping2)} == {"usage"}
    assert ping["project"] == "hostpkg" and ping["project_version"] == "2.1.0"
    assert ping["client_id"] == (home / "client_id").read_text().strip()
    metrics = json.loads(ping["metrics"]) if isinstance(ping["metrics"], str) else ping["metrics"]
    assert metrics["counters"] == {"io.read_csv": 1}
    assert spooled(home) == []


def test_delivered_over_https_with_a_configured_ca(tmp_path, tls_server, tls_ca):
    home = tmp_path / "home"
    ca_file = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(ca_file))
    env = _env(home, SEMPERVIRENS_CA_BUNDLE=str(ca_file))
    run_host("", env)  # nothing recorded: no notice, no file
    assert not home.exists()
    for _ in range(2):
        assert_clean(run_host(_host(tls_server.url), env))
    assert len(_wait_for(tls_server.pings)) >= 1


def test_untrusted_certificate_sends_nothing_and_keeps_the_ping(tmp_path, tls_server):
    home = tmp_path / "home"
    env = _env(home)  # the system trust store does not know the test CA
    for _ in range(2):
        assert_clean(run_host(_host(tls_server.url), env))
    time.sleep(0.3)
    assert tls_server.pings() == []
    assert len(spooled(home)) == 2


def test_killed_host_loses_nothing_that_was_spooled(tmp_path, server, monkeypatch):
    # Restarts the server at the same port: the main venv's (_services needs httpx).
    _server_module = pytest.importorskip("_services.server", reason="needs the test extra")
    home = tmp_path / "home"
    url = server.url
    server.kill()  # the collection server is down
    # Run 1: the ping waits in the spool.
    assert_clean(run_host(_host(url), _env(home)))
    # Run 2: a long-running host ends periods, then is killed without any cleanup.
    host = start_host(
        _host(url, "for _ in range(600):\n    telemetry.count('tick'); time.sleep(0.05)\n"),
        _env(home, SEMPERVIRENS_INTERVAL="0.2"),
    )
    assert _wait_for(lambda: len(spooled(home)) >= 3)
    host.send_signal(signal.SIGKILL)
    host.communicate(timeout=10)
    pending = {h["document_id"] for h, _ in read_spool(home)}
    # Run 3: the server is back at the same address; everything pending goes, each ping once.
    monkeypatch.setattr(_server_module, "free_port", lambda: int(url.rsplit(":", 1)[1]))
    revived = _server_module.start_server(tmp_path / "data2")
    try:
        assert_clean(run_host(_host(url), _env(home)))
        stored = _wait_for(
            lambda: pending <= {p["document_id"] for p in revived.pings()} and revived.pings()
        )
    finally:
        revived.stop()
    assert pending <= {p["document_id"] for p in stored}
    assert len(stored) == len({p["document_id"] for p in stored})


def _timed_host(blackhole) -> str:
    """A host program against the blackhole that reports, at exit, how long exiting took."""
    return (
        "import atexit\n"
        "def report(): sys.stderr.write(f'EXIT_DELAY {time.monotonic() - END:.4f}\\n')\n"
        "atexit.register(report)\n"
        + _host(blackhole)
        + "END = time.monotonic()\n"
    )


def test_exit_is_not_delayed_by_a_server_that_never_answers(tmp_path, blackhole):
    home = tmp_path / "home"
    timed = _timed_host(blackhole)
    env = _env(home, SEMPERVIRENS_EXIT_TIMEOUT="0.1")  # the default, said explicitly
    run_host(timed, env)  # first run: the notice, and its pings are held
    start = time.monotonic()
    result = run_host(timed, env)
    wall = time.monotonic() - start
    assert_clean(result)
    delay = float(result.stderr.split("EXIT_DELAY ")[1].split()[0])
    assert delay <= 0.15, delay  # 100 ms budget, some slack for a loaded CI machine
    assert wall < 5
    assert len(spooled(home)) == 2  # unsent, kept for next time


def test_exit_timeout_is_configurable(tmp_path, blackhole):
    home = tmp_path / "home"
    timed = _timed_host(blackhole)
    env = _env(home, SEMPERVIRENS_EXIT_TIMEOUT="0.5")
    run_host(timed, env)
    result = run_host(timed, env)
    delay = float(result.stderr.split("EXIT_DELAY ")[1].split()[0])
    assert 0.45 <= delay <= 0.8, delay


def test_do_not_track_means_nothing_at_all(tmp_path, blackhole):
    home = tmp_path / "home"
    code = _host(
        blackhole,
        "import threading, socket\nprint(threading.active_count(), 'ssl' in sys.modules)\n",
    )
    start = time.monotonic()
    result = run_host(code, _env(home, DO_NOT_TRACK="1"))
    assert_clean(result)
    assert result.stdout.strip() == "1 False" and result.stderr == ""  # no thread, no notice
    assert not home.exists()  # no id, no spool: nothing to send, ever
    assert time.monotonic() - start < 5  # and no wait for the silent server


def test_fork_children_report_their_own_use(tmp_path, server):
    home = tmp_path / "home"
    code = _host(
        server.url,
        """\
import os
for child in range(2):
    pid = os.fork()
    if pid == 0:
        telemetry.count("child.work", 10)
        sys.exit(0)  # a normal exit of the child: its own atexit handler reports
    assert os.waitpid(pid, 0)[1] == 0
telemetry.count("parent.work")
""",
    )
    assert_clean(
        run_host("import sempervirens\nsempervirens.Telemetry('hostpkg').opt_in()\n", _env(home))
    )
    assert_clean(run_host(code, _env(home)))
    pings = _wait_for(lambda: len(server.pings()) >= 3 and server.pings())
    counters = [
        json.loads(p["metrics"])["counters"]
        if isinstance(p["metrics"], str)
        else p["metrics"]["counters"]
        for p in pings
    ]
    parent = [c for c in counters if "parent.work" in c]
    children = [c for c in counters if "child.work" in c]
    assert len(parent) == 1 and parent[0]["io.read_csv"] == 1  # the parent's counts, once
    assert len(children) == 2 and all(c == {"child.work": 10} for c in children)
    assert len({p["client_id"] for p in pings}) == 1


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_workers_report(tmp_path, server, method):
    home = tmp_path / "home"
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "mp_host.py").write_text(f"""\
import multiprocessing, sempervirens
telemetry = sempervirens.Telemetry("hostpkg", version="1.0", endpoint={server.url!r})

def work(n):
    telemetry.count("worker.task", n)

if __name__ == "__main__":
    context = multiprocessing.get_context({method!r})
    procs = [context.Process(target=work, args=(5,)) for _ in range(2)]
    for p in procs: p.start()
    for p in procs: p.join()
    assert all(p.exitcode == 0 for p in procs)
    telemetry.count("main.done")
""")
    env = _env(home, PYTHONPATH=str(pkg))
    assert_clean(run_host("import sempervirens\nsempervirens.Telemetry('hostpkg').opt_in()\n", env))
    result = subprocess.run(  # noqa: PLW1510 - the caller checks
        [sys.executable, str(pkg / "mp_host.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert_clean(result)
    pings = _wait_for(lambda: len(server.pings()) >= 3 and server.pings())
    total = 0
    for p in pings:
        metrics = json.loads(p["metrics"]) if isinstance(p["metrics"], str) else p["metrics"]
        total += metrics["counters"].get("worker.task", 0)
    assert total == 10 and len(pings) == 3


def test_read_only_home_and_no_home_are_silent(tmp_path):
    readonly = tmp_path / "ro"
    readonly.mkdir()
    code = _host("http://127.0.0.1:9", "print('host ok')\n")
    if os.geteuid() == 0:
        # root writes through permissions: give the host a read-only file system as its
        # home, mounted in a mount namespace of its own.
        if not shutil.which("unshare"):
            pytest.skip("running as root without unshare: cannot make a read-only home")
        mount = (
            'mount -t tmpfs -o ro,size=1m tmpfs "$0" || exit 99; '
            'touch "$0/probe" 2>/dev/null && exit 98; exec "$@"'
        )
        result = run_host(
            code,
            clean_env(HOME=str(readonly)),
            prefix=("unshare", "-m", "sh", "-c", mount, str(readonly)),
        )
        assert result.returncode not in (98, 99), "the read-only mount did not take"
    else:
        readonly.chmod(0o555)
        result = run_host(code, clean_env(HOME=str(readonly)))
    assert_clean(result)
    assert result.stdout == "host ok\n" and result.stderr == ""
    assert list(readonly.iterdir()) == []

    env = clean_env()
    env.pop("HOME", None)
    env["HOME"] = str(tmp_path / "does-not-exist")
    result = run_host(code, env)
    assert_clean(result)
    assert result.stdout == "host ok\n" and result.stderr == ""
    assert not (tmp_path / "does-not-exist").exists()


def test_rejected_ping_is_dropped_and_reported_in_the_next(tmp_path, server):
    home = tmp_path / "home"
    env = _env(home)
    assert_clean(run_host("import sempervirens\nsempervirens.Telemetry('hostpkg').opt_in()\n", env))
    spool = home / "spool"
    spool.mkdir(parents=True, exist_ok=True)
    header = {
        "endpoint": server.url,
        "project": "hostpkg",
        "ping_type": "usage",
        "document_id": "0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405162",
    }
    # A body the server must refuse (an unknown field), as a buggy older client might have left.
    body = {
        "client_id": "0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405163",
        "project_version": "1",
        "user": "x",
    }
    (
        spool / f"{int(time.time() * 1000):013d}.{header['document_id']}.usage.hostpkg.ping"
    ).write_bytes(json.dumps(header).encode() + b"\n" + json.dumps(body).encode())
    assert_clean(run_host(_host(server.url), env))  # sends its ping; the refused one is dropped
    assert server.pings()[0]["dropped"] is None
    assert_clean(run_host(_host(server.url), env))  # the next ping says what was lost
    pings = _wait_for(lambda: len(server.pings()) >= 2 and server.pings())
    dropped = [
        json.loads(p["dropped"]) if isinstance(p["dropped"], str) else p["dropped"] for p in pings
    ]
    assert {"rejected_400": 1} in dropped


def _cli(env, *args):
    return subprocess.run(  # noqa: PLW1510 - the caller checks
        [sys.executable, "-m", "sempervirens", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_opt_out_deletes_pending_and_sends_one_anonymous_event(tmp_path, server):
    home = tmp_path / "home"
    env = _env(home)
    assert_clean(run_host(_host(server.url), env))  # notice run: its ping waits in the spool
    assert len(spooled(home)) == 1
    out = _cli(env, "opt-out", "hostpkg")
    assert out.returncode == 0, out.stderr
    assert "refused for hostpkg" in out.stdout and "sent to: hostpkg" in out.stdout
    [event] = server.pings()
    assert event["ping_type"] == "opt-out" and event["client_id"] is None
    assert spooled(home) == []
    # From now on the host records and sends nothing.
    assert_clean(run_host(_host(server.url), env))
    assert spooled(home) == [] and len(server.pings()) == 1
    status = _cli(env, "status").stdout
    assert "hostpkg 2.1.0: off (denied by you)" in status


def test_forget_asks_for_deletion_and_changes_the_id(tmp_path, server):
    home = tmp_path / "home"
    env = _env(home)
    for _ in range(2):
        assert_clean(run_host(_host(server.url), env))
    old = (home / "client_id").read_text().strip()
    _wait_for(server.pings)
    out = _cli(env, "forget")
    assert out.returncode == 0, out.stderr
    new = (home / "client_id").read_text().strip()
    assert is_uuid4(new) and new != old and old in out.stdout and new in out.stdout
    assert spooled(home) == []
    [request] = [p for p in server.pings() if p["ping_type"] == "deletion-request"]
    assert request["client_id"] == old and request["project"] == "hostpkg"
    assert "deletion request for installation id" in out.stdout and "sent" in out.stdout


def test_show_and_send_commands(tmp_path, server):
    home = tmp_path / "home"
    env = _env(home)
    assert_clean(run_host(_host(server.url), env))
    shown = _cli(env, "show")
    assert shown.returncode == 0
    assert "# usage ping of hostpkg" in shown.stdout and '"io.read_csv": 1' in shown.stdout
    raw = _cli(env, "show", "--raw").stdout
    [(_, body)] = read_spool(home)
    assert body.decode() in raw  # exactly the bytes that will be sent
    sent = _cli(env, "send")
    assert sent.returncode == 0 and "sent 1, kept 0" in sent.stdout
    assert len(server.pings()) == 1
