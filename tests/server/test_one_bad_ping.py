"""One bad ping never fails the others, on SQLite and on PostgreSQL.

Whatever the validator accepts, both stores store; when a store refuses one ping of
a batch anyway, the batch is split: that ping alone is answered 400 (do not resend)
and the others are committed.  The store's refusal is made real here with a trigger
or a CHECK constraint added by the test to its own database.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from _services.dump import store_urls_of
from _services.server import start_server
from pings import new_id, post, usage
from sempervirens.protocol import MAX_COUNT, MAX_TRACEBACK_LENGTH
from sempervirens.store import create_store_engine

REFUSED_VERSION = "6.6.6"


@pytest.fixture
def proxied_server(tmp_path, database_args):
    running = start_server(tmp_path / "data", extra_args=("--trusted-proxies", "127.0.0.1", *database_args))
    yield running
    running.stop()


def _sql(url: str, *statements: str):
    engine = create_store_engine(url)
    try:
        with engine.begin() as connection:
            results = [connection.exec_driver_sql(statement) for statement in statements]
            return results[-1].fetchall() if results[-1].returns_rows else None
    finally:
        engine.dispose()


def _refuse_a_version(url: str) -> None:
    if url.startswith("sqlite"):
        _sql(url, f"CREATE TRIGGER refuse BEFORE INSERT ON pings WHEN NEW.project_version = '{REFUSED_VERSION}' "
                  "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    else:
        _sql(url, f"ALTER TABLE pings ADD CONSTRAINT refuse CHECK (project_version <> '{REFUSED_VERSION}')")


def _hold_write_lock(url: str):
    """Keep the store busy while pings queue, so that they form one batch."""
    engine = create_store_engine(url)
    connection = engine.raw_connection()
    cursor = connection.cursor()
    cursor.execute("BEGIN EXCLUSIVE" if url.startswith("sqlite") else "LOCK TABLE pings IN ACCESS EXCLUSIVE MODE")

    def release() -> None:
        connection.rollback()
        connection.close()
        engine.dispose()
    return release


@pytest.mark.slow
def test_a_batch_a_store_refuses_is_split_and_only_the_bad_ping_fails(proxied_server):
    server = proxied_server
    telemetry_url, private_url = store_urls_of(server)
    _refuse_a_version(telemetry_url)
    good = [new_id() for _ in range(15)]
    bad = new_id()
    release = _hold_write_lock(telemetry_url)
    try:
        with ThreadPoolExecutor(16) as pool:
            def send(document_id, version):
                with httpx.Client(timeout=30) as client:
                    return post(client, server.url, usage(project_version=version), document_id=document_id)
            futures = {pool.submit(send, d, "1.0"): d for d in good}
            futures[pool.submit(send, bad, REFUSED_VERSION)] = bad
            deadline = time.monotonic() + 20
            while httpx.get(server.url + "/healthz", timeout=5).json()["waiting"] < len(futures):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            release()
            replies = {document_id: future.result() for future, document_id in futures.items()}
    finally:
        release_quietly(release)
    assert {d: r.status_code for d, r in replies.items() if d != bad} == dict.fromkeys(good, 202)
    assert replies[bad].status_code == 400 and replies[bad].json()["error"]["code"] == "unstorable"
    stored = {row[0] for row in _sql(telemetry_url, "SELECT document_id FROM pings")}
    assert stored == set(good)
    logged = {row[0] for row in _sql(private_url, "SELECT document_id FROM access_log")}
    assert logged == set(good)  # the refused ping left no line in the other store
    sizes = [int(n) for n in re.findall(r"refused one ping of a batch of (\d+)", server.log())]
    assert sizes and max(sizes) > 1  # it really was split out of a batch


def release_quietly(release) -> None:
    try:
        release()
    except Exception:  # noqa: BLE001 - already released
        pass


def test_what_the_validator_accepts_both_stores_store(proxied_server):
    server = proxied_server
    with httpx.Client(timeout=30) as client:
        # A link-local IPv6 address with a long zone id, forwarded by a trusted proxy.
        zoned = post(client, server.url, usage(), headers={"X-Forwarded-For": "fe80::1%" + "z" * 200})
        assert zoned.status_code == 202, zoned.text
        nul = post(client, server.url, usage(crash={"exception_type": "ValueError", "traceback": "a\u0000b"}),
                   ping_type="crash")
        assert nul.status_code == 400 and nul.json()["error"]["field"] == "crash.traceback"
        cores = post(client, server.url, usage(environment={"cpu_count": 2**40}))
        assert cores.status_code == 400 and cores.json()["error"]["field"] == "environment.cpu_count"
        longest = usage(project_version="9" * 128, library={"name": "n" * 128, "version": "v" * 128},
                        environment={"os": "o" * 128, "cpu_count": 2**31 - 1, "memory_total": 2**53 - 1},
                        crash={"exception_type": "E" * 256, "traceback": "\u00e9\u4e2d\U0001F600" * 20000})
        assert post(client, server.url, longest, ping_type="crash").status_code == 202
    telemetry_url, private_url = store_urls_of(server)
    assert [row[0] for row in _sql(private_url, "SELECT ip FROM access_log ORDER BY id")] == ["fe80::1", "127.0.0.1"]
    assert len(_sql(telemetry_url, "SELECT document_id FROM pings")) == 2


def _fat_crash(number: int) -> dict:
    """A valid crash ping of about 400 KB: the longest traceback and ~1,000 long counter names."""
    counters = {f"c{number}.{i}_{'n' * 100}": MAX_COUNT for i in range(990)}
    crash = {"exception_type": "ValueError", "traceback": "\U0001F600" * MAX_TRACEBACK_LENGTH}
    return usage(crash=crash, metrics={"counters": counters})


@pytest.mark.slow
@pytest.mark.postgres
def test_big_valid_pings_do_not_make_a_batch_the_store_refuses_whole(tmp_path, postgres):
    # PostgreSQL takes a batch as one jsonb parameter and refuses one over 256 MiB: the
    # ~700 valid 400 KB pings queued while a commit waited made one batch it refused
    # (ProgramLimitExceeded), and every ping in it, a small one of another client too, got 503.
    server = start_server(tmp_path / "data", timeout=60, extra_args=(
        "--database", postgres.create_database("telemetry"),
        "--private-database", postgres.create_database("private"),
        "--trusted-proxies", "127.0.0.1",  # behind a proxy: no per-address connection share
        "--store-timeout", "120", "--batch-size", "2000"))
    fat = [_fat_crash(n) for n in range(700)]
    release = _hold_write_lock(server.option("--database"))

    async def run() -> dict:
        limits = httpx.Limits(max_connections=800, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=300, limits=limits) as client:
            async def send(body, ping_type):
                url = f"{server.url}/submit/numpy/{ping_type}/1/{new_id()}"
                reply = await client.post(url, content=json.dumps(body),
                                          headers={"Content-Type": "application/json"})
                return ping_type, reply.status_code

            async def queued(count: int) -> None:
                deadline = time.monotonic() + 240
                while (await client.get(server.url + "/healthz")).json()["waiting"] < count:
                    assert time.monotonic() < deadline, "the pings did not all queue"
                    await asyncio.sleep(0.1)

            sends = [asyncio.ensure_future(send(usage(), "usage"))]  # the commit that waits
            await queued(1)
            sends += [asyncio.ensure_future(send(body, "crash")) for body in fat]
            sends.append(asyncio.ensure_future(send(usage(), "usage")))  # someone else's
            await queued(len(sends))  # all in the next batch
            release()
            return Counter(await asyncio.gather(*sends))

    try:
        statuses = asyncio.run(run())
    finally:
        release_quietly(release)
        server.stop()
    assert statuses == {("crash", 202): 700, ("usage", 202): 2}, statuses
    assert len(_sql(server.option("--database"), "SELECT document_id FROM pings")) == 702
