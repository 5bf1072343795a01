"""202 means committed: what was acknowledged survives SIGKILL; overload is refused, not queued forever."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from _services.dump import store_urls_of
from _services.server import start_server
from pings import new_id, post, usage
from sempervirens.store import create_store_engine


def _stored_ids(server) -> set[str]:
    engine = create_store_engine(store_urls_of(server)[0])
    try:
        with engine.connect() as connection:
            return set(connection.exec_driver_sql("SELECT document_id FROM pings").scalars())
    finally:
        engine.dispose()


@pytest.mark.slow
def test_every_acknowledged_ping_survives_sigkill(tmp_path, database_args):
    server = start_server(tmp_path / "data", extra_args=database_args)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=5) as client:
            for _ in range(3000):  # bounded, and stopped by the kill anyway
                if stop.is_set():
                    return
                document_id = new_id()
                try:
                    reply = post(client, server.url, usage(), document_id=document_id)
                except httpx.HTTPError:
                    return  # the server is gone
                if reply.status_code == 202:
                    with lock:
                        acknowledged.append(document_id)

    with ThreadPoolExecutor(8) as pool:
        for _ in range(8):
            pool.submit(load)
        deadline = time.monotonic() + 20
        while len(acknowledged) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()  # in the middle of the load
        stop.set()
    assert len(acknowledged) >= 300

    restarted = start_server(tmp_path / "data", extra_args=database_args)
    try:
        missing = set(acknowledged) - _stored_ids(restarted)
        assert not missing, f"{len(missing)} acknowledged pings lost"
    finally:
        restarted.stop()


def _hold_write_lock(server, store_kind: str):
    """Lock the telemetry store from outside, as a long migration or a stuck backup would."""
    engine = create_store_engine(store_urls_of(server)[0])
    connection = engine.raw_connection()
    cursor = connection.cursor()
    if store_kind == "sqlite":
        cursor.execute("BEGIN EXCLUSIVE")
    else:
        cursor.execute("LOCK TABLE pings IN ACCESS EXCLUSIVE MODE")

    def release() -> None:
        connection.rollback()
        connection.close()
        engine.dispose()
    return release


@pytest.mark.slow
def test_overload_answers_503_with_retry_after_and_loses_nothing(tmp_path, database_args, store_kind):
    server = start_server(tmp_path / "data", extra_args=("--queue-size", "4", *database_args))
    try:
        release = _hold_write_lock(server, store_kind)
        ids = [new_id() for _ in range(24)]

        def send(document_id):
            with httpx.Client(timeout=30) as client:
                return document_id, post(client, server.url, usage(), document_id=document_id)

        with ThreadPoolExecutor(24) as pool:
            futures = [pool.submit(send, i) for i in ids]
            # Wait until every request is either answered or waiting on the stuck writer.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                waiting = httpx.get(server.url + "/healthz").json()["waiting"]
                if waiting + sum(f.done() for f in futures) == len(ids):
                    break
                time.sleep(0.05)
            release()
            replies = [f.result() for f in futures]

        refused = [r for _, r in replies if r.status_code == 503]
        accepted = {i for i, r in replies if r.status_code == 202}
        assert len(refused) >= len(ids) - 4 and accepted  # no more than --queue-size wait
        assert all(int(r.headers["Retry-After"]) > 0 and r.json()["error"]["code"] == "overloaded"
                   for r in refused)
        assert len(refused) + len(accepted) == len(ids)
        assert _stored_ids(server) == accepted
    finally:
        server.stop()


def test_health_check_is_cheap_and_not_cached(server):
    reply = httpx.get(server.url + "/healthz")
    assert reply.headers["cache-control"] == "no-store"


