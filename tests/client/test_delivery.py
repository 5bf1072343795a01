"""Nothing lost, nothing stuck: per-endpoint senders, unreadable spool entries,
exact drop accounting, per-project trust, the first run's hold across processes."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from _fault_server import FaultServer
from client_helpers import assert_clean, clean_env, read_spool, run_command, run_host, spooled

import sempervirens
from sempervirens.client import _consent
from sempervirens.client._spool import Spool


def _wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


def _opted_in(home, *projects):
    home.mkdir(parents=True, exist_ok=True)
    for project in projects:
        _consent.update(str(home), "usage", project, _consent.GRANTED)


def _put(home, endpoint, project, body=None, stamp=None):
    header = {
        "endpoint": endpoint,
        "project": project,
        "ping_type": "usage",
        "document_id": "0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405162",
    }
    spool = home / "spool"
    spool.mkdir(parents=True, exist_ok=True)
    name = f"{stamp or 1:013d}.{header['document_id']}.usage.{project}.ping"
    (spool / name).write_bytes(json.dumps(header).encode() + b"\n" + (body or b"{}"))
    return spool / name


@pytest.mark.slow
def test_a_black_holed_endpoint_never_delays_another(tmp_path, server, blackhole):
    home = tmp_path / "home"
    _opted_in(home, "stuck", "healthy")
    # The oldest pending ping is for an endpoint that accepts and never answers.
    _put(home, blackhole, "stuck", stamp=int(time.time() * 1000) - 1000)
    code = f"""\
        import sempervirens
        t = sempervirens.Telemetry("healthy", version="1", endpoint={server.url!r})
        t.count("run")
    """
    env = clean_env(SEMPERVIRENS_HOME=str(home), SEMPERVIRENS_EXIT_TIMEOUT="2")
    for _ in range(10):
        start = time.monotonic()
        assert_clean(run_host(code, env))
        assert time.monotonic() - start < 20  # a loaded machine; the bound itself is 2 s
    pings = _wait_for(lambda: len(server.pings()) >= 10 and server.pings())
    assert len(pings) == 10 and {p["project"] for p in pings} == {"healthy"}
    assert [h["project"] for h, _ in read_spool(home)] == ["stuck"]


def _unreadable_reported(pings) -> int:
    dropped = [json.loads(p["dropped"]) if isinstance(p["dropped"], str) else p["dropped"]
               for p in pings if p["dropped"]]
    return sum(d.get("spool_unreadable", 0) for d in dropped)


def test_unreadable_entries_are_quarantined_and_counted_once(tmp_path, server):
    home = tmp_path / "home"
    _opted_in(home, "hostpkg")
    spool = home / "spool"
    spool.mkdir()
    now = int(time.time() * 1000)
    (spool / f"{now - 3000:013d}.0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405160.usage.hostpkg.ping").mkdir()
    os.mkfifo(spool / f"{now - 2000:013d}.0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405161.usage.hostpkg.ping")
    code = f"""\
        import sempervirens
        t = sempervirens.Telemetry("hostpkg", version="1", endpoint={server.url!r})
        t.count("run")
    """
    env = clean_env(SEMPERVIRENS_HOME=str(home), SEMPERVIRENS_EXIT_TIMEOUT="5")
    assert_clean(run_host(code, env, timeout=30))
    [ping] = _wait_for(server.pings)
    assert spooled(home) == []
    assert sorted(p.name[14:] for p in (spool / "quarantine").iterdir()) == [
        "0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405160.usage.hostpkg.ping",
        "0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405161.usage.hostpkg.ping",
    ]
    # Each counted once: in the file until a ping carries it (this run's own ping, when
    # its uploader's first pass quarantined one before the ping was built), then there.
    waiting = Spool(str(home)).dropped().get("hostpkg", {}).get("spool_unreadable", 0)
    assert _unreadable_reported([ping]) + waiting == 2
    assert_clean(run_host(code, env, timeout=30))
    pings = _wait_for(lambda: len(server.pings()) >= 2 and server.pings())
    assert _unreadable_reported(pings) == 2 and Spool(str(home)).dropped() == {}
    os.mkfifo(spool / f"{now:013d}.0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405163.usage.hostpkg.ping")
    sent = run_command(env, "send")
    assert sent.returncode == 0 and "Traceback" not in sent.stderr, sent.stderr
    assert spooled(home) == []


def test_spool_bound_counts_every_drop_exactly_once(home, closed_port, monkeypatch):
    monkeypatch.setenv("SEMPERVIRENS_SPOOL_MAX_PINGS", "3")
    _opted_in(home, "bounded")
    telemetry = sempervirens.Telemetry("bounded", version="1", endpoint=closed_port)
    for _ in range(12):
        telemetry.count("x")
        telemetry._end_period()  # the server is down: every ping stays, over the bound
    left = read_spool(home)
    assert len(left) == 3
    carried = sum(json.loads(body).get("dropped", {}).get("spool_full", 0) for _, body in left)
    waiting = Spool(str(home)).dropped().get("bounded", {}).get("spool_full", 0)
    assert carried + waiting == 12 - 3


@pytest.mark.slow
def test_trust_belongs_to_the_endpoint_that_asked_for_it(tmp_path, home, tls_server, tls_ca):
    import trustme

    other_ca = trustme.CA()
    context = other_ca.issue_cert("127.0.0.1").configure_cert  # a second, unrelated CA
    import ssl

    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context(server_context)
    other = FaultServer([(202, {})], tls_context=server_context)
    try:
        ca_file, other_ca_file = tmp_path / "ca.pem", tmp_path / "other-ca.pem"
        tls_ca.cert_pem.write_to_path(str(ca_file))
        other_ca.cert_pem.write_to_path(str(other_ca_file))
        _opted_in(home, "first", "second")
        first = sempervirens.Telemetry("first", endpoint=tls_server.url, ca_bundle=str(ca_file))
        second = sempervirens.Telemetry(
            "second", endpoint=other.url, ca_bundle=str(other_ca_file)
        )
        for telemetry in (first, second):
            telemetry.count("x")
            telemetry.flush()
        assert _wait_for(lambda: tls_server.pings() and other.requests)
        assert _wait_for(lambda: spooled(home) == [])
    finally:
        other.close()


@pytest.mark.slow
def test_the_first_run_holds_in_its_spawn_workers_too(tmp_path, server):
    home = tmp_path / "home"
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "first_run.py").write_text(f"""\
import multiprocessing, sempervirens, time
telemetry = sempervirens.Telemetry("hostpkg", version="1.0", endpoint={server.url!r})

def work(n):
    telemetry.count("worker.task", n)
    telemetry.flush()
    time.sleep(1.0)  # time enough for its uploader to send, if it were allowed to

if __name__ == "__main__":
    telemetry.count("main.start")  # the notice: this is the installation's first run
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=work, args=(5,)) for _ in range(2)]
    for w in workers: w.start()
    for w in workers: w.join()
""")
    env = clean_env(
        SEMPERVIRENS_HOME=str(home), PYTHONPATH=str(pkg), SEMPERVIRENS_EXIT_TIMEOUT="2"
    )
    result = subprocess.run(
        [sys.executable, str(pkg / "first_run.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "sempervirens opt-out hostpkg" in result.stderr
    time.sleep(0.5)
    assert server.pings() == []  # nothing left during the first run, from any process
    assert len(spooled(home)) == 3
    # The next run sends everything.
    assert_clean(run_host(f"""\
        import sempervirens
        sempervirens.Telemetry("hostpkg", endpoint={server.url!r}).count("again")
    """, clean_env(SEMPERVIRENS_HOME=str(home), SEMPERVIRENS_EXIT_TIMEOUT="5")))
    assert len(_wait_for(lambda: len(server.pings()) >= 4 and server.pings())) == 4


@pytest.mark.slow
def test_forkserver_workers_keep_their_counts(tmp_path):
    home = tmp_path / "home"
    _opted_in(home, "hostpkg")
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "fs_host.py").write_text("""\
import multiprocessing, sempervirens
from concurrent.futures import ProcessPoolExecutor
telemetry = sempervirens.Telemetry("hostpkg", version="1.0", endpoint="http://127.0.0.1:9")

def work(n):
    telemetry.count("worker.task", n)

if __name__ == "__main__":
    context = multiprocessing.get_context("forkserver")
    processes = [context.Process(target=work, args=(1,)) for _ in range(2)]
    for p in processes: p.start()
    for p in processes: p.join()
    pool = context.Pool(2)
    pool.map(work, [10] * 10)
    pool.close(); pool.join()
    with ProcessPoolExecutor(2, mp_context=context) as executor:
        list(executor.map(work, [1000] * 10))
""")
    env = clean_env(SEMPERVIRENS_HOME=str(home), PYTHONPATH=str(pkg))
    result = subprocess.run(
        [sys.executable, str(pkg / "fs_host.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    total = sum(
        json.loads(body)["metrics"].get("counters", {}).get("worker.task", 0)
        for _, body in read_spool(home)
    )
    assert total == 2 + 100 + 10000


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_leaving_a_with_pool_block_keeps_the_workers_counts(tmp_path, method):
    """`with Pool() as pool:` ends with terminate(): SIGTERM to workers still alive."""
    home = tmp_path / "home"
    _opted_in(home, "hostpkg")
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "pool_host.py").write_text(f"""\
import multiprocessing, sempervirens
telemetry = sempervirens.Telemetry("hostpkg", version="1.0", endpoint="http://127.0.0.1:9")

def work(k):
    for _ in range(k):
        telemetry.count("worker.task")
    return k

if __name__ == "__main__":
    context = multiprocessing.get_context({method!r})
    with context.Pool(3) as pool:
        assert sum(pool.map(work, [7] * 40, chunksize=1)) == 280
    print("exitcodes", sorted(p.exitcode for p in pool._pool))
""")
    env = clean_env(SEMPERVIRENS_HOME=str(home), PYTHONPATH=str(pkg))
    result = subprocess.run(
        [sys.executable, str(pkg / "pool_host.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    # Still killed by SIGTERM, as before (or ended on its own before terminate() came).
    codes = result.stdout.split("exitcodes ")[1].strip()
    assert set(json.loads(codes)) <= {0, -15}, codes
    total = sum(
        json.loads(body)["metrics"].get("counters", {}).get("worker.task", 0)
        for _, body in read_spool(home)
    )
    assert total == 40 * 7


@pytest.mark.slow
def test_many_processes_on_one_home_keep_the_spool_whole(tmp_path, monkeypatch):
    """Ranks of a job on nodes sharing a home: concurrent periods, bounds and sends."""
    home = tmp_path / "home"
    _opted_in(home, "shared")
    code = """\
        import sempervirens
        t = sempervirens.Telemetry("shared", version="1", endpoint="http://127.0.0.1:9")
        for i in range(15):
            t.count("x")
            t.flush()  # a period, the spool bound, and a send attempt, each time
    """
    env = clean_env(
        SEMPERVIRENS_HOME=str(home),
        SEMPERVIRENS_SPOOL_MAX_PINGS="20",
        SEMPERVIRENS_ALL_RANKS="1",
        SEMPERVIRENS_EXIT_TIMEOUT="0.2",
    )
    from client_helpers import start_host

    hosts = [start_host(code, env) for _ in range(8)]
    for host in hosts:
        _, err = host.communicate(timeout=120)
        assert host.returncode == 0 and "SEMPERVIRENS SWALLOWED" not in err, err
    left = read_spool(home)  # every file parses: nothing half written
    assert len(left) <= 20
    counted = sum(json.loads(body)["metrics"]["counters"]["x"] for _, body in left)
    carried = sum(json.loads(body).get("dropped", {}).get("spool_full", 0) for _, body in left)
    waiting = Spool(str(home)).dropped().get("shared", {}).get("spool_full", 0)
    assert counted == len(left)  # one count per ping
    assert carried + waiting + len(left) == 8 * 15  # every ping sent, kept, or counted once
    assert len({(home / "client_id").read_text()}) == 1


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="no signal masks")
def test_our_threads_never_take_a_sigterm_not_even_in_their_first_instant():
    """A SIGTERM sent to a multiprocessing worker must land on its main thread (the only
    one that runs Python handlers, _termination.py): a thread of ours that took it would
    leave the worker blocked waiting for a task, alive after pool.terminate().  The mask
    is the new thread's from its first instruction, and the starting thread's is as it
    was."""
    from sempervirens.client import _uploader

    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    seen = []
    started = threading.Thread(
        target=lambda: seen.append(signal.pthread_sigmask(signal.SIG_BLOCK, [])))
    _uploader._born_without_sigterm(started.start)
    started.join()
    assert signal.SIGTERM in seen[0]
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before



@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="no pthread_kill")
def test_a_sigterm_whose_handler_waits_behind_a_blocking_call_is_delivered_again(tmp_path):
    """CPython notes a SIGTERM that comes just before the main thread blocks, but runs its
    handler only once the call returns: an idle pool worker then lived on, and
    pool.terminate() waited for ever.  Here the worker is told of a SIGTERM as CPython
    tells its wakeup fd (the race itself cannot be timed on demand) while it sleeps: our
    watcher signals the main thread again, the handler writes the counts, and the worker
    dies of SIGTERM within seconds, not after its 30 s sleep."""
    home = tmp_path / "home"
    _opted_in(home, "hostpkg")
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "sleeper.py").write_text("""\
import multiprocessing, os, signal, time, sempervirens
telemetry = sempervirens.Telemetry("hostpkg", version="1.0", endpoint="http://127.0.0.1:9")

def work():
    telemetry.count("worker.task", 5)  # installs the handler and its watcher
    from sempervirens.client import _termination
    os.write(_termination._wakeups[1], bytes([signal.SIGTERM]))
    time.sleep(30)

if __name__ == "__main__":
    worker = multiprocessing.get_context("fork").Process(target=work)
    started = time.monotonic()
    worker.start()
    worker.join(20)
    print("exitcode", worker.exitcode, "after", round(time.monotonic() - started))
""")
    env = clean_env(SEMPERVIRENS_HOME=str(home), PYTHONPATH=str(pkg))
    result = subprocess.run([sys.executable, str(pkg / "sleeper.py")], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    _, code, _, seconds = result.stdout.split()
    assert code == "-15" and int(seconds) < 10, result.stdout
    total = sum(json.loads(body)["metrics"].get("counters", {}).get("worker.task", 0)
                for _, body in read_spool(home))
    assert total == 5
