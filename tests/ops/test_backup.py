"""`sempervirens backup` of a serving deployment, and `restore` of it elsewhere."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time as clock, timedelta, timezone

import httpx
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from _services.server import start_server
from ops_helpers import CLOSED, TODAY, one_line_error, rows, run, store_args, tree, urls_of
from pings import new_id, post, usage
from population import Ping, client, insert
from sempervirens import settings
from sempervirens.admin.tables import tombstones
from sempervirens.cycle.run import run_cycle
from sempervirens.store import open_stores
from sempervirens.store.lake import Lake
from sempervirens.store.schema import access_log, pings



def _dataset(releases, name: str = "day-2026-11-01-v1", release_id: int = 1):
    """A published dataset directory, as release/datasets.py writes one."""
    directory = releases / "numpy" / name
    directory.mkdir(parents=True)
    (directory / "statistics.csv").write_text("project,value\nnumpy,120\n")
    (directory / "manifest.json").write_text(json.dumps({"release_id": release_id}))
    return directory


def _deployment(data_dir, urls, clients: list[str], days: list[date]):
    """Stores holding pings of these clients on these days, and a lake of the closed ones."""
    stores = open_stores(data_dir, *urls)
    insert(stores, [Ping("numpy", c, day, ip=f"192.0.2.{i + 1}") for i, c in enumerate(clients)
                    for day in days])
    stores.dispose()
    sealed = run("lake", "seal", *store_args(data_dir, urls))
    assert sealed.returncode == 0, sealed.stderr


@pytest.mark.slow
def test_a_serving_deployment_backed_up_under_load_restores_elsewhere_the_same(tmp_path, new_urls):
    live, live_urls = tmp_path / "live", new_urls()
    _deployment(live, live_urls, [client() for _ in range(5)], CLOSED)
    dataset = _dataset(live / "releases")
    server = start_server(live, extra_args=(*store_args(live, live_urls)[2:],
                                            "--aggregate-interval-seconds", "0"))
    acknowledged: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=10) as http:
            while not stop.is_set():
                document_id = new_id()
                if post(http, server.url, usage(), document_id=document_id).status_code == 202:
                    acknowledged.append(document_id)

    try:
        with ThreadPoolExecutor(4) as pool:
            try:
                for _ in range(4):
                    pool.submit(load)
                deadline = time.monotonic() + 30
                while len(acknowledged) < 200 and time.monotonic() < deadline:
                    time.sleep(0.01)
                before = set(acknowledged)
                made = run("backup", tmp_path / "backup", *store_args(live, live_urls))
                during = len(acknowledged) - len(before)
            finally:
                stop.set()
    finally:
        server.stop()
    assert made.returncode == 0, made.stderr
    assert len(before) >= 200 and during > 0  # pings kept coming while it was copied

    elsewhere, elsewhere_urls = tmp_path / "elsewhere", new_urls()
    restored = run("restore", tmp_path / "backup", *store_args(elsewhere, elsewhere_urls))
    assert restored.returncode == 0, restored.stderr
    assert "stores: telemetry" in restored.stdout

    stores = open_stores(elsewhere, *elsewhere_urls)
    with stores.telemetry.connect() as connection:
        restored_ids = set(connection.execute(select(pings.c.document_id)).scalars())
    stores.dispose()
    assert before <= restored_ids  # every ping acknowledged before the backup began
    for live_url, restored_url in zip(urls_of(live, live_urls), urls_of(elsewhere, elsewhere_urls)):
        live_rows, restored_rows = rows(live_url), rows(restored_url)
        assert set(restored_rows) <= set(live_rows)  # a snapshot: nothing altered or invented
        assert len(restored_rows) > len(before)
    assert Lake(elsewhere / "lake").manifest() == Lake(live / "lake").manifest()
    assert Lake(elsewhere / "lake").verify() == []
    assert len(Lake(elsewhere / "lake").days()) == len(CLOSED)
    assert tree(elsewhere / "releases") == tree(live / "releases") and dataset.exists()
    assert (elsewhere / "secret.key").read_bytes() == (live / "secret.key").read_bytes()
    assert (elsewhere / "secret.key").stat().st_mode & 0o077 == 0

    check = run("check", *store_args(elsewhere, elsewhere_urls), "--dns-server", "127.0.0.1:1")
    assert "ok    telemetry migrations: at head" in check.stdout, check.stdout
    assert "ok    lake:" in check.stdout


def test_restore_verifies_the_backup_and_never_overwrites_without_force(tmp_path):
    data = tmp_path / "data"
    _deployment(data, (None, None), [client()], [CLOSED[0]])
    assert run("backup", tmp_path / "backup", "--data-dir", data).returncode == 0

    # An existing directory that is not empty is not a place for a backup.
    one_line_error(run("backup", data, "--data-dir", data), "not an empty directory", "nothing written")
    # The target holds data: nothing is restored unless told.
    before = tree(data)
    one_line_error(run("restore", tmp_path / "backup", "--data-dir", data),
                   "the target holds data", "telemetry store", "lake", "--force")
    assert tree(data) == before

    # A damaged backup is refused before anything is touched, even with --force.
    copy = tmp_path / "backup" / "telemetry.sqlite"
    damaged = bytearray(copy.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    copy.write_bytes(bytes(damaged))
    one_line_error(run("restore", tmp_path / "backup", "--data-dir", data, "--force"),
                   "damaged", "telemetry.sqlite", "sha256", "nothing restored")
    assert tree(data) == before

    # Not a backup at all; an interrupted one has no manifest either.
    one_line_error(run("restore", tmp_path, "--data-dir", tmp_path / "other"), "not a backup")
    assert not (tmp_path / "other").exists()


def test_backup_and_restore_refuse_missing_stores_and_create_nothing(tmp_path):
    one_line_error(run("backup", tmp_path / "backup", "--data-dir", tmp_path / "nowhere"),
                   "no telemetry store at", str(tmp_path / "nowhere" / "telemetry.db"))
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / "backup").exists()
    assert not list(tmp_path.iterdir())  # no half-written backup left beside it either


def test_a_restore_deletes_again_the_clients_deleted_since_the_backup(tmp_path, new_urls):
    data, urls = tmp_path / "data", new_urls()
    gone, kept = client(), client()
    _deployment(data, urls, [gone, kept], [*CLOSED, TODAY])
    assert run("backup", tmp_path / "backup", *store_args(data, urls)).returncode == 0
    deleted = run("admin", "delete", gone, *store_args(data, urls))
    assert deleted.returncode == 0, deleted.stderr

    # The deployment is brought back to the backup: the deletion must survive it.
    restored = run("restore", tmp_path / "backup", *store_args(data, urls), "--force")
    assert restored.returncode == 0, restored.stderr
    assert "1 tombstone(s) carried over, 1 client(s) deleted again" in restored.stdout

    stores = open_stores(data, *urls)
    try:
        with stores.telemetry.connect() as connection:
            ping_clients = set(connection.execute(select(pings.c.client_id)).scalars())
        with stores.private.connect() as connection:
            log_clients = set(connection.execute(select(access_log.c.client_id)).scalars())
            buried = connection.execute(select(tombstones.c.hash)).scalars().all()
    finally:
        stores.dispose()
    assert gone not in ping_clients | log_clients and kept in ping_clients and kept in log_clients
    assert len(buried) == 1
    lake = Lake(data / "lake")
    lake_clients = {c for path in lake.files("pings") for c in pq.read_table(path)["client_id"].to_pylist()}
    assert kept in lake_clients and gone not in lake_clients


def test_a_restore_killed_part_way_keeps_the_deletions_since_the_backup(tmp_path):
    """kill -9 once the private store is replaced: the next `restore --force` (what the
    error says to do) must still carry out the deletions made after the backup."""
    import os
    import subprocess
    import sys

    data = tmp_path / "data"
    gone, kept = client(), client()
    _deployment(data, (None, None), [gone, kept], [*CLOSED, TODAY])
    assert run("backup", tmp_path / "backup", *store_args(data)).returncode == 0
    assert run("admin", "delete", gone, *store_args(data)).returncode == 0

    killed = subprocess.run([sys.executable, "-c", (
        "import os, signal, sys\n"
        "import sempervirens.store.backup as b\n"
        "b._restore_lake = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
        "from sempervirens.cli import main\n"
        f"sys.exit(main(['restore', '--force', {str(tmp_path / 'backup')!r}, '--data-dir', {str(data)!r}]))")],
        capture_output=True, text=True, env={**os.environ}, timeout=180)
    assert killed.returncode == -9, killed.stderr

    restored = run("restore", tmp_path / "backup", *store_args(data), "--force")
    assert restored.returncode == 0, restored.stderr
    assert "1 tombstone(s) carried over, 1 client(s) deleted again" in restored.stdout
    stores = open_stores(data)
    try:
        with stores.telemetry.connect() as connection:
            ping_clients = set(connection.execute(select(pings.c.client_id)).scalars())
    finally:
        stores.dispose()
    assert gone not in ping_clients and kept in ping_clients
    assert not (data / ".restore-tombstones.json").exists()


def test_a_restored_private_store_keeps_no_address_past_retention(tmp_path):
    data = tmp_path / "data"
    old, recent = TODAY - timedelta(days=40), TODAY - timedelta(days=5)
    stores = open_stores(data)
    insert(stores, [Ping("numpy", client(), day, ip=f"192.0.2.{i}") for day in (old, recent)
                    for i in range(1, 6)])
    # Aggregated, not yet purged: the backup holds addresses that are 40 days old.
    config = settings.resolve(data_dir=str(data))
    run_cycle(stores, config, now=datetime.combine(TODAY, clock(12), timezone.utc),
              purge=False, enrich=False)
    stores.dispose()
    assert run("backup", tmp_path / "backup", "--data-dir", data).returncode == 0

    restored = run("restore", tmp_path / "backup", "--data-dir", tmp_path / "restored")
    assert restored.returncode == 0, restored.stderr
    assert "retention (30 days): 5 row(s) with addresses purged" in restored.stdout
    stores = open_stores(tmp_path / "restored")
    with stores.private.connect() as connection:
        days = [r.date() for r in connection.execute(select(access_log.c.received_at)).scalars()]
    stores.dispose()
    assert sorted(days) == [recent] * 5


def test_a_restore_refuses_to_let_published_periods_be_released_again(tmp_path):
    data = tmp_path / "data"
    _deployment(data, (None, None), [client()], [CLOSED[0]])
    _dataset(data / "releases", "day-2026-11-01-v1", 1)
    assert run("backup", tmp_path / "backup", "--data-dir", data).returncode == 0
    _dataset(data / "releases", "day-2026-11-02-v1", 2)  # published after the backup
    before = tree(data)
    one_line_error(run("restore", tmp_path / "backup", "--data-dir", data, "--force"),
                   "published after this backup", "numpy/day-2026-11-02-v1", "nothing restored")
    assert tree(data) == before


def test_bad_input_is_one_line_and_changes_nothing(tmp_path):
    data = tmp_path / "data"
    open_stores(data).dispose()
    assert run("backup", tmp_path / "backup", "--data-dir", data).returncode == 0
    target = tmp_path / "target"
    cases = [
        (("backup", tmp_path / "b2", "--database", "notaurl", "--private-database", "x"),
         ("--database", "not a database URL")),
        (("restore", tmp_path / "backup", "--data-dir", target, "--retention-days", "0"),
         ("--retention-days 0: must be at least 1",)),
        (("restore", tmp_path / "backup", "--data-dir", target, "--database", "mysql://a@b/c",
          "--private-database", f"sqlite:///{target}/p.db"),
         ("backups handle SQLite and PostgreSQL stores only",)),
        (("restore", tmp_path / "backup", "--data-dir", target, "--database", "postgresql://a@127.0.0.1:1/c",
          "--private-database", "postgresql://a@127.0.0.1:1/d"),
         ("is sqlite, the target postgresql://a@127.0.0.1:1/c is not",)),
        (("restore", tmp_path / "nothing", "--data-dir", target), ("not a backup",)),
    ]
    for args, words in cases:
        one_line_error(run(*args), *words)
    assert not target.exists() and not (tmp_path / "b2").exists()

    (tmp_path / "backup" / "manifest.json").write_text('{"format": 1, "stores": {}}')
    one_line_error(run("restore", tmp_path / "backup", "--data-dir", target), "a field is missing")
    assert not target.exists()


@pytest.mark.postgres
def test_a_password_in_the_store_url_reaches_pg_dump_and_pg_restore_through_the_environment(
        tmp_path, postgres):
    # libpq takes the password in the URL's query too: it must not be on the tools' command
    # line (which `ps` shows to every user of the host), nor in what the commands say.
    secret = "pw-Zr81q"
    urls = tuple(f"{postgres.create_database(name)}?password={secret}"
                 for name in ("telemetry", "private"))
    data, seen = tmp_path / "data", tmp_path / "seen"
    tools = tmp_path / "bin"
    tools.mkdir()
    from sempervirens.store.backup import pg_tool

    for tool in ("pg_dump", "pg_restore"):  # the real tool, its command line written down
        (tools / tool).write_text(f'#!/bin/sh\necho "$* PGPASSWORD=$PGPASSWORD" >> {seen}\n'
                                  f'exec {pg_tool(tool)} "$@"\n')
        (tools / tool).chmod(0o755)
    env = {"PATH": f"{tools}:/usr/bin:/bin"}
    assert run("init", *store_args(data, urls)).returncode == 0
    backed_up = run("backup", tmp_path / "backup", *store_args(data, urls), env=env)
    assert backed_up.returncode == 0, backed_up.stderr
    targets = tuple(f"{postgres.create_database(name)}?password={secret}"
                    for name in ("telemetry", "private"))
    restored = run("restore", tmp_path / "backup", *store_args(tmp_path / "target", targets),
                   env=env)
    assert restored.returncode == 0, restored.stderr
    lines = seen.read_text().splitlines()
    assert len(lines) == 4  # two dumps, two restores
    for line in lines:
        arguments, _, password = line.rpartition(" PGPASSWORD=")
        assert secret not in arguments and password == secret, line
    for said in (backed_up, restored):
        assert secret not in said.stdout + said.stderr
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert secret not in json.dumps(manifest)


def test_a_restore_after_the_key_was_replaced_deletes_again_under_the_new_key(tmp_path):
    # The backup's servers had one key; the key was replaced since (docs/operations.md, the
    # breach runbook), and a client deleted under the new one: the restore carries that
    # deletion over under the deployment's key, not refused as made under another.
    from sempervirens.admin.tombstones import servers_key

    data, gone, kept = tmp_path / "data", client(), client()
    _deployment(data, (None, None), [gone, kept], [*CLOSED, TODAY])
    assert run("admin", "delete", client(), "--data-dir", data).returncode == 0  # key 1's
    assert run("backup", tmp_path / "backup", "--data-dir", data).returncode == 0
    new_key = ["--secret-key", "n" * 40]
    stores = open_stores(data)
    servers_key(stores.private, new_key[1].encode())  # what each `serve` does as it starts
    stores.dispose()
    assert run("admin", "delete", gone, "--data-dir", data, *new_key).returncode == 0

    restored = run("restore", tmp_path / "backup", "--data-dir", data, "--force", *new_key)
    assert restored.returncode == 0, restored.stderr
    assert "1 tombstone(s) carried over, 1 client(s) deleted again" in restored.stdout
    assert gone not in rows(urls_of(data)[0]) + rows(urls_of(data)[1])
    assert any(kept in row for row in rows(urls_of(data)[0]))
