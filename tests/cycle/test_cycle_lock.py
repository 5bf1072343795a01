"""The cycle's lock on PostgreSQL (an advisory lock): one cycle at a time across hosts,
held for the whole cycle, let go when its holder dies, and a cycle that lost it stops."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import date, datetime, timezone

import psycopg
import pytest
from population import Ping, client, insert
from sqlalchemy import func, select

from sempervirens import settings
from sempervirens.cycle.background import CycleLockLost, cycle_lock
from sempervirens.cycle.run import run_cycle
from sempervirens.store import open_stores
from sempervirens.store.lake import Lake
from sempervirens.store.schema import pings


@pytest.fixture
def two_hosts(postgres, tmp_path):
    telemetry, private = postgres.create_database("telemetry"), postgres.create_database("private")
    first = open_stores(tmp_path / "a", telemetry, private)
    second = open_stores(tmp_path / "b", telemetry, private, migrate=False)
    yield first, second, telemetry, private
    first.dispose()
    second.dispose()


def test_the_lock_outlives_an_idle_in_transaction_timeout(two_hosts):
    # Managed PostgreSQL often ends sessions idle in a transaction; the lock's is not.
    first, second, telemetry, _ = two_hosts
    with psycopg.connect(telemetry, autocommit=True) as connection:
        connection.execute(f"ALTER DATABASE {telemetry.rsplit('/', 1)[1]} "
                           "SET idle_in_transaction_session_timeout = '500ms'")
    first.telemetry.dispose()  # sessions opened from now on have the timeout
    with cycle_lock(first) as lock:
        assert lock is not None
        time.sleep(1.5)  # the cycle's own work, on other connections
        with cycle_lock(second) as other:
            assert other is None, "a second cycle got the lock while the first still runs"
        lock.check()


def test_a_killed_holder_lets_the_lock_go(two_hosts, tmp_path):
    first, _, telemetry, private = two_hosts
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from sempervirens.cycle.background import cycle_lock
        from sempervirens.store import open_stores
        stores = open_stores({str(tmp_path / 'c')!r}, {telemetry!r}, {private!r}, migrate=False)
        with cycle_lock(stores) as lock:
            print(lock is not None, flush=True)
            time.sleep(600)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "True"
        with cycle_lock(first) as lock:
            assert lock is None
        holder.kill()
        holder.wait()
        deadline = time.monotonic() + 5
        while True:
            with cycle_lock(first) as lock:
                if lock is not None:
                    break
            assert time.monotonic() < deadline, "the dead holder's lock is still held"
            time.sleep(0.05)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_a_cycle_whose_lock_went_with_a_restart_stops(two_hosts, postgres, tmp_path):
    first, second, _, _ = two_hosts
    insert(first, [Ping("numpy", client(), date(2026, 3, 2)) for _ in range(5)])
    config = settings.resolve(data_dir=str(tmp_path / "a"), seal_grace_hours=0)
    now = datetime(2026, 3, 4, 12, tzinfo=timezone.utc)
    with cycle_lock(first) as lock:
        postgres.stop_server()
        postgres.start_server()
        with cycle_lock(second) as other:
            assert other is not None  # the lock went with the old session
            with pytest.raises(CycleLockLost):
                run_cycle(first, config, now=now, enrich=False, lock=lock)
    with cycle_lock(first) as lock:  # the next cycle recovers
        assert run_cycle(first, config, now=now, enrich=False, lock=lock).sealed_days


@pytest.mark.parametrize("command", [["admin", "delete", "CLIENT"], ["lake", "seal"]])
def test_a_lake_writer_on_another_host_waits_for_the_running_cycle(two_hosts, tmp_path, command):
    """The lake's own lock is a file on the writing machine: on object storage it does not
    reach another host. `admin delete` there read the manifest while a cycle sealed a day
    holding the client's pings (read from the store before the deletion's), and the seal
    published it after the deletion: the UUID stayed in the lake, the deletion said done.
    A command that writes the lake holds the cycle's lock, waiting for a running cycle."""
    first, _, telemetry, private = two_hosts
    victim = client()
    insert(first, [Ping("numpy", victim, date(2026, 3, 2))])
    command = [victim if part == "CLIENT" else part for part in command]

    def victims_pings() -> int:
        with first.telemetry.connect() as connection:
            return connection.execute(select(func.count()).select_from(pings).where(
                pings.c.client_id == victim)).scalar()

    with cycle_lock(first) as lock:  # a cycle runs on the other host
        assert lock is not None
        writer = subprocess.Popen(
            [sys.executable, "-m", "sempervirens", *command, "--data-dir", str(tmp_path / "b"),
             "--database", telemetry, "--private-database", private,
             "--lake", str(tmp_path / "lake")], stderr=subprocess.PIPE, text=True)
        try:
            said = []  # until it says it waits (lake seal names its lake first), or ends
            while not said or said[-1] and "waiting" not in said[-1]:
                said.append(writer.stderr.readline())
            assert "waiting for the aggregation cycle" in said[-1], said
            time.sleep(1)
            assert writer.poll() is None and victims_pings() == 1
            assert not (tmp_path / "lake" / "manifest.json").exists()  # the lake untouched
        except BaseException:
            writer.kill()
            writer.wait()
            writer.stderr.close()
            raise
    assert writer.wait(60) == 0, writer.stderr.read()
    writer.stderr.close()
    if command[0] == "admin":
        assert victims_pings() == 0
    else:
        assert Lake(tmp_path / "lake").days() == [date(2026, 3, 2)]
