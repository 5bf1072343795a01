"""Store faults against a real server and a real PostgreSQL: stopped, then frozen.

A stopped store: every ping that cannot be stored is answered 503 with Retry-After
within 2 s (the tombstone check included), nothing acknowledged is lost, and
ingestion recovers by itself when PostgreSQL is back.  A frozen store (SIGSTOP):
every store call has a deadline, /healthz says 503 with a reason, and all is well
again after SIGCONT.
"""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

from _services.postgres import start_cluster
from _services.server import start_server
from pings import MINIMAL_OPT_OUT, new_id, post, usage
from sempervirens.store import create_store_engine

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def own_cluster():
    """A cluster of this test's own: it is stopped and frozen, which others must not see."""
    cluster = start_cluster()
    yield cluster
    try:
        cluster.thaw()
    except (OSError, ValueError):
        pass
    cluster.stop()


def _server(tmp_path, cluster, timeout: str = "1"):
    return start_server(tmp_path / "data", extra_args=(
        "--database", cluster.create_database("telemetry"),
        "--private-database", cluster.create_database("private"), "--store-timeout", timeout),
        timeout=60)  # starting up on a busy machine is not what these tests are about


def _stored(server) -> set[str]:
    engine = create_store_engine(server.option("--database"))
    try:
        with engine.connect() as connection:
            return set(connection.exec_driver_sql("SELECT document_id FROM pings").scalars())
    finally:
        engine.dispose()


def test_stopped_postgres_gives_503_fast_then_recovers_and_loses_nothing(tmp_path, own_cluster):
    server = _server(tmp_path, own_cluster, timeout="0.5")
    results: list[tuple[str, int, float, dict]] = []
    lock = threading.Lock()
    phase = {"down": False}
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=10) as client:
            for _ in range(2000):  # bounded; stopped by the test long before
                if stop.is_set():
                    return
                document_id = new_id()
                started = time.monotonic()
                reply = post(client, server.url, usage(), document_id=document_id)
                with lock:
                    results.append((document_id, reply.status_code, time.monotonic() - started,
                                    dict(reply.headers) | {"down": phase["down"]}))
                time.sleep(0.01)

    try:
        with ThreadPoolExecutor(4) as pool:
            for _ in range(4):
                pool.submit(load)
            time.sleep(1.0)
            phase["down"] = True
            own_cluster.stop_server()
            time.sleep(3.0)  # longer than the tombstone cache (1 s) and the store deadline (1 s)
            health = httpx.get(server.url + "/healthz", timeout=10)
            own_cluster.start_server()
            phase["down"] = False
            restarted = time.monotonic()
            recovered = None
            while time.monotonic() - restarted < 20 and recovered is None:
                time.sleep(0.1)
                with lock:
                    recovered = next((at for _, status, at, h in results[-20:] if status == 202
                                      and not h["down"]), None)
            time.sleep(0.5)
            stop.set()
        statuses = [status for _, status, _, _ in results]
        assert set(statuses) <= {202, 503}, sorted(set(statuses))
        unavailable = [(elapsed, headers) for _, status, elapsed, headers in results if status == 503]
        assert unavailable, "the store was down for 3 s: some pings must have been refused"
        assert all(int(headers["retry-after"]) > 0 for _, headers in unavailable)
        assert max(elapsed for elapsed, _ in unavailable) <= 2.0
        assert health.status_code == 503 and "reason" in health.json()
        assert recovered is not None, "ingestion did not recover after PostgreSQL came back"
        deadline = time.monotonic() + 15  # healthy again by itself, within a bound
        while (final := httpx.get(server.url + "/healthz", timeout=10)).status_code != 200 \
                and time.monotonic() < deadline:
            time.sleep(0.5)
        assert final.status_code == 200, final.text
        acknowledged = {document_id for document_id, status, _, _ in results if status == 202}
        assert acknowledged - _stored(server) == set()
        log = server.log()
        assert " 500 " not in log and "Traceback" not in log
        # Failed commits are one line per kind of error per 10 s, not one per batch;
        # the return of the store is one line too.
        assert 1 <= log.count("ERROR sempervirens.store: commit of") <= 4, log
        assert "the stores commit again, after" in log
    finally:
        stop.set()
        server.stop()


def test_frozen_postgres_every_call_has_a_deadline_and_healthz_says_why(tmp_path, own_cluster):
    server = _server(tmp_path, own_cluster)
    try:
        with httpx.Client(timeout=15) as client:
            assert post(client, server.url, usage()).status_code == 202
            own_cluster.freeze()
            try:
                time.sleep(1.2)  # past the tombstone cache: the next ping must read the frozen store
                started = time.monotonic()
                replies = [post(client, server.url, usage()) for _ in range(3)]
                elapsed = time.monotonic() - started
                health = client.get(server.url + "/healthz")
            finally:
                own_cluster.thaw()
            assert [r.status_code for r in replies] == [503] * 3
            assert all(r.headers["retry-after"] and r.json()["error"]["code"] == "store_unavailable"
                       for r in replies)
            assert elapsed < 3 * 2.5  # each within the 1 s deadline, plus the writer's own
            assert health.status_code == 503
            assert "did not answer" in health.json()["reason"] or "failed" in health.json()["reason"]
            deadline = time.monotonic() + 20
            while client.get(server.url + "/healthz").status_code != 200:
                assert time.monotonic() < deadline, "healthz did not recover after SIGCONT"
                time.sleep(0.2)
            document_id = new_id()
            assert post(client, server.url, usage(), document_id=document_id).status_code == 202
            assert document_id in _stored(server)
    finally:
        server.stop()


def test_healthz_reports_a_writer_that_cannot_commit(tmp_path, own_cluster):
    server = _server(tmp_path, own_cluster)
    try:
        own_cluster.stop_server()
        deadline = time.monotonic() + 5  # a probe's answer is kept for a second
        with httpx.Client(timeout=10) as client:
            while (reply := client.get(server.url + "/healthz")).status_code == 200:
                assert time.monotonic() < deadline, "healthz still says ok with the store stopped"
                time.sleep(0.2)
        assert reply.status_code == 503
        assert reply.json()["status"] == "unavailable" and "store" in reply.json()["reason"]
        # A commit fails too: /healthz, which anyone may read, says of what kind, not the
        # store's message ('connection to server at "10.0.0.5", port 5432 failed', its
        # user or database names).
        with httpx.Client(timeout=10) as client:
            for _ in range(2):  # one meets the closed connection, one the stopped server
                reply = post(client, server.url, MINIMAL_OPT_OUT, ping_type="opt-out")
                assert reply.status_code == 503
            reason = client.get(server.url + "/healthz").json()["reason"]
        assert "the last commit failed: OperationalError" in reason, reason
        address = urlsplit(server.option("--database"))
        assert address.hostname not in reason and str(address.port) not in reason, reason
    finally:
        own_cluster.start_server()  # as the fixture expects to find it
        server.stop()


def test_a_postgres_restart_is_a_few_log_lines_and_no_traceback(tmp_path, own_cluster):
    """The parts of the stopped-store test that do not depend on the machine's speed."""
    server = _server(tmp_path, own_cluster)
    try:
        with httpx.Client(timeout=15) as client:
            # Opt-outs carry no client_id: no tombstone check, each goes to the writer (a batch each).
            def anonymous():
                return post(client, server.url, MINIMAL_OPT_OUT, ping_type="opt-out")

            assert anonymous().status_code == 202  # the writer holds a connection now
            own_cluster.stop_server()
            try:
                refused = [anonymous() for _ in range(20)]
            finally:
                own_cluster.start_server()
            assert {reply.status_code for reply in refused} == {503}
            assert all(reply.json()["error"]["code"] == "store_unavailable" for reply in refused)
            deadline = time.monotonic() + 20
            while anonymous().status_code != 202:
                assert time.monotonic() < deadline, "ingestion did not recover after PostgreSQL came back"
                time.sleep(0.2)
    finally:
        server.stop()
    log = server.log()
    assert "Traceback" not in log and " 500 " not in log, log
    assert log.count("ERROR sempervirens.store: commit of") <= 4, log  # not one per batch
    assert "the stores commit again, after" in log
    # One line per record: a store's multi-line message is cut to its first line.
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ |INFO: ", line)
               for line in log.splitlines() if line.strip()), log
