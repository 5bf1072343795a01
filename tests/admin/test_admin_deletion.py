"""Deletion on SQLite and PostgreSQL: every row goes, the files forget, late pings are dropped."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import httpx
import pytest

from _services.dump import dump_store, store_urls_of
from _services.server import start_server
from admin_helpers import stores_of
from pings import new_id, post, usage
from sempervirens.aggregate import tables as aggregate_tables
from sempervirens.cli import main

pytestmark = pytest.mark.slow

DELETED_IP, KEPT_IP = "198.51.100.7", "198.51.100.8"


@pytest.fixture
def any_store_server(tmp_path, database_args):
    running = start_server(tmp_path / "data", extra_args=("--trusted-proxies", "127.0.0.1", *database_args))
    yield running
    running.stop()


def _store_args(server) -> list[str]:
    args = ["--data-dir", str(server.data_dir)]
    for flag in ("--database", "--private-database"):
        if server.option(flag):
            args += [flag, server.option(flag)]
    return args


def _send(client, server, client_id: str, ip: str, ping_type: str = "usage", body=None) -> str:
    document_id = new_id()
    reply = post(client, server.url, body or usage(client_id), ping_type=ping_type, document_id=document_id,
                 headers={"X-Forwarded-For": ip})
    assert reply.status_code == 202, reply.text
    return document_id


def _enrich_as_the_other_layers_do(server) -> None:
    stores = stores_of(server)
    now = datetime.now(timezone.utc)
    try:
        with stores.private.begin() as connection:
            connection.execute(aggregate_tables.ip_origins.insert(), [
                dict(ip=ip, hostname=None, domain=None, institution=None, kind="unknown", enriched_at=now)
                for ip in (DELETED_IP, KEPT_IP)])
    finally:
        stores.dispose()


def _export(server, client_id, path, capsys) -> dict:
    assert main(["admin", "export", client_id, "--output", str(path), *_store_args(server)]) == 0
    capsys.readouterr()
    assert path.stat().st_mode & 0o777 == 0o600
    return json.loads(path.read_text())


def test_delete_removes_every_trace_and_later_pings_are_dropped(any_store_server, tmp_path, capsys):
    server = any_store_server
    gone, kept = new_id(), new_id()
    with httpx.Client(timeout=10) as client:
        documents = [_send(client, server, gone, DELETED_IP) for _ in range(3)]
        _send(client, server, gone, DELETED_IP, "crash",
              usage(gone, crash={"exception_type": "ValueError", "traceback": "Traceback ...\nValueError: x"}))
        _send(client, server, kept, KEPT_IP)
    _enrich_as_the_other_layers_do(server)

    # Access first: the export holds everything about the client, its address included.
    exported = _export(server, gone, tmp_path / "before.json", capsys)
    assert len(exported["telemetry"]["pings"]) == 4
    assert {row["ip"] for row in exported["private"]["access_log"]} == {DELETED_IP}
    assert [row["ip"] for row in exported["private"]["ip_origins"]] == [DELETED_IP]
    assert exported["deleted"] is False

    assert main(["admin", "delete", gone, *_store_args(server)]) == 0  # while the server runs
    assert "deleted 1 client" in capsys.readouterr().err

    telemetry_url, private_url = store_urls_of(server)
    telemetry, private = dump_store(telemetry_url), dump_store(private_url)
    assert gone not in telemetry and gone not in private
    assert DELETED_IP not in private  # its address was only ever this client's
    assert kept in telemetry and kept in private and KEPT_IP in private
    if telemetry_url.startswith("sqlite"):
        for path in sorted(server.data_dir.glob("*.db*")):
            assert gone.encode() not in path.read_bytes(), path  # free pages and WAL included

    after = _export(server, gone, tmp_path / "after.json", capsys)
    assert after["deleted"] is True
    assert all(rows == [] for rows in (*after["telemetry"].values(), *after["private"].values(),
                                       *after["lake"].values()))
    assert gone not in dump_store(private_url)  # the exports left no trace in the audit log

    # A resend of an old ping, and a new one, are answered 202 and dropped.
    with httpx.Client(timeout=10) as client:
        reply = post(client, server.url, usage(gone), document_id=documents[1], headers={"X-Forwarded-For": DELETED_IP})
        assert reply.status_code == 202
        _send(client, server, gone, DELETED_IP)
        _send(client, server, kept, KEPT_IP)
    telemetry = dump_store(telemetry_url)
    assert gone not in telemetry and telemetry.count(kept) == 2


def test_a_deletion_request_ping_is_carried_out_by_the_next_cycle(server, capsys):
    # SQLite only: the test above deletes on both stores; this one is about the request path.
    forgetful, other = new_id(), new_id()
    with httpx.Client(timeout=10) as client:
        _send(client, server, forgetful, DELETED_IP)
        _send(client, server, other, KEPT_IP)
        _send(client, server, forgetful, DELETED_IP, "deletion-request", {"client_id": forgetful})
    assert main(["admin", "process-deletions", *_store_args(server)]) == 0
    telemetry_url, private_url = store_urls_of(server)
    assert forgetful not in dump_store(telemetry_url) + dump_store(private_url)
    assert other in dump_store(telemetry_url)

    with httpx.Client(timeout=10) as client:
        _send(client, server, forgetful, DELETED_IP, "deletion-request", {"client_id": forgetful})  # resent
    assert forgetful not in dump_store(telemetry_url)


def test_the_tombstone_is_a_keyed_hash_not_the_uuid(tmp_path, capsys):
    import hashlib

    client_id = new_id()
    assert main(["init", "--data-dir", str(tmp_path / "data")]) == 0  # only init and serve create a store
    assert main(["admin", "delete", client_id, "--data-dir", str(tmp_path / "data")]) == 0
    private = dump_store(f"sqlite:///{tmp_path / 'data' / 'private.db'}")
    assert "tombstones:" in private and client_id not in private
    assert hashlib.sha256(client_id.encode()).hexdigest() not in private  # not a plain hash either
    key_file = tmp_path / "data" / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_the_aggregation_cycle_deletes_on_request(server, capsys):
    """Time to deletion: one cycle, which carries out the request in both stores (the lake
    has nothing of today yet; tests/store/test_lake.py covers its rewrite)."""
    clients = [new_id() for _ in range(3)]
    with httpx.Client(timeout=10) as client:
        for client_id in clients:
            _send(client, server, client_id, KEPT_IP)
        _send(client, server, clients[0], KEPT_IP, "deletion-request", {"client_id": clients[0]})
    cycle = ["aggregate", "--data-dir", str(server.data_dir), "--no-purge",
             "--dns-server", "127.0.0.1:9"]  # nothing answers there: enrichment gives up at once
    assert main(cycle) == 0
    assert "1 clients deleted" in capsys.readouterr().out
    telemetry_url, private_url = store_urls_of(server)
    stored = dump_store(telemetry_url) + dump_store(private_url)
    assert clients[0] not in stored and clients[1] in stored


def test_a_deletion_request_outlives_a_lake_step_that_failed(tmp_path):
    """The request is the only record that a client asked to be deleted: it goes last,
    so a lake out of reach (here, its manifest unreadable) delays the deletion, never
    loses it."""
    from datetime import timedelta

    import pyarrow.parquet as pq
    from sqlalchemy import select

    from population import Ping, insert
    from sempervirens.admin.deletion import process_deletion_requests
    from sempervirens.store import open_stores
    from sempervirens.store.lake import Lake, LakeError, seal
    from sempervirens.store.schema import pings

    victim, now = new_id(), datetime.now(timezone.utc)
    stores = open_stores(tmp_path / "data")
    try:
        insert(stores, [Ping("numpy", victim, now.date() - timedelta(days=2)),
                        Ping("numpy", victim, now.date(), ping_type="deletion-request")])
        lake = Lake(tmp_path / "lake")
        seal(stores.telemetry, lake, now=now)
        manifest = tmp_path / "lake" / "manifest.json"
        text = manifest.read_text()
        manifest.write_text("{damaged")

        def requests() -> list:
            with stores.telemetry.connect() as connection:
                return connection.execute(select(pings.c.ping_type).where(
                    pings.c.client_id == victim)).scalars().all()

        with pytest.raises(LakeError):
            process_deletion_requests(stores, b"k" * 32, lake=str(lake.location), settle=0)
        assert requests() == ["deletion-request"]  # the rest of the store is done already
        manifest.write_text(text)
        report = process_deletion_requests(stores, b"k" * 32, lake=str(lake.location), settle=0)
        assert report.clients == 1 and report.rows["lake pings"] == 1
        assert requests() == []
        assert victim not in {row["client_id"] for path in lake.files("pings")
                              for row in pq.read_table(path).to_pylist()}
    finally:
        stores.dispose()


def test_two_deletions_at_once_are_both_seen_by_a_running_server(store_kind, request, tmp_path):
    # PostgreSQL hands out a tombstone's id when it is inserted, not when it commits; a
    # server reading ids above the last it read must never skip one committed late.
    import threading
    import time
    import uuid

    from sempervirens.admin.deletion import _bury
    from sempervirens.admin.tables import tombstones
    from sempervirens.admin.tombstones import ForgottenClients, client_hash, serialise_inserts
    from sempervirens.store import open_stores

    key = b"k" * 32
    urls = (None, None)
    if store_kind == "postgresql":
        cluster = request.getfixturevalue("postgres")
        urls = (cluster.create_database("telemetry"), cluster.create_database("private"))
    stores = open_stores(tmp_path / "data", *urls)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    server = ForgottenClients(stores.private, key)
    inserted, go = threading.Event(), threading.Event()

    def slow_deletion() -> None:  # its tombstone inserted, not yet committed
        with stores.private.begin() as connection:
            serialise_inserts(connection)
            connection.execute(tombstones.insert().values(hash=client_hash(key, first),
                                                          month="2026-03"))
            inserted.set()
            go.wait(10)

    try:
        slow = threading.Thread(target=slow_deletion)
        slow.start()
        assert inserted.wait(10)
        quick = threading.Thread(target=_bury, args=(stores.private, key, [second]))
        quick.start()
        time.sleep(0.5)
        server._read_new()  # a refresh meanwhile
        go.set()
        slow.join()
        quick.join()
        server._read_new()
        server._read_at = time.monotonic()
        assert server.known(first) and server.known(second)
    finally:
        stores.dispose()


def test_a_lake_that_cannot_be_rewritten_is_said_in_one_line(tmp_path, capsys):
    import os
    from datetime import timedelta

    from population import Ping, insert
    from sempervirens.store import open_stores
    from sempervirens.store.lake import Lake

    data, gone = tmp_path / "data", new_id()
    assert main(["init", "--data-dir", str(data)]) == 0
    stores = open_stores(data)
    insert(stores, [Ping("numpy", gone, date.today() - timedelta(days=2))])
    stores.dispose()
    assert main(["lake", "seal", "--data-dir", str(data)]) == 0
    lake = Lake(data / "lake")
    (day,) = lake.manifest()["days"].values()
    os.unlink(lake.path(day["files"][0]["path"]))  # a file of the day is lost
    capsys.readouterr()
    assert main(["admin", "delete", gone, "--data-dir", str(data)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("sempervirens admin: deletion incomplete: ") and "\n" not in err
    assert "run this command again" in err and "failed (" not in err


@pytest.mark.parametrize("damage", ["a directory", "not UTF-8", "a dangling link"])
@pytest.mark.parametrize("command", ["delete", "process-deletions", "export"])
def test_a_secret_key_that_cannot_be_read_stops_before_anything_changes(tmp_path, command, damage):
    # The key is read first: its failure is neither said to be the lake's ("the clients are
    # tombstoned and gone from the stores") nor met after a tombstone or a row is gone.
    import os
    import subprocess
    import sys

    from population import Ping, insert
    from sempervirens.store import open_stores

    data, gone = tmp_path / "data", new_id()
    assert main(["init", "--data-dir", str(data)]) == 0
    stores = open_stores(data)
    insert(stores, [Ping("numpy", gone, date.today())])
    stores.dispose()
    assert main(["admin", "delete", new_id(), "--data-dir", str(data)]) == 0  # one tombstone
    key = data / "secret.key"
    key.unlink()
    if damage == "a directory":
        key.mkdir()
    elif damage == "not UTF-8":
        key.write_bytes(b"\xe9" * 64)
    else:
        os.symlink(tmp_path / "elsewhere.key", key)
    urls = [f"sqlite:///{data / name}" for name in ("telemetry.db", "private.db")]
    before = [dump_store(url) for url in urls]
    words = {"delete": [gone], "process-deletions": [], "export": [gone]}[command]
    done = subprocess.run([sys.executable, "-m", "sempervirens", "admin", command, *words,
                           "--data-dir", str(data)], capture_output=True, text=True, timeout=60)
    lines = done.stderr.splitlines()
    assert done.returncode != 0 and len(lines) == 1, done.stderr
    assert f"the secret key {key} cannot be" in lines[0] and "lake" not in lines[0], lines[0]
    assert done.stdout == ""
    assert [dump_store(url) for url in urls] == before


def test_a_deletion_under_another_key_than_the_servers_is_refused(any_store_server, tmp_path,
                                                                 capsys):
    # An operator on another host, or with another --data-dir, has another secret key (one
    # is made on first use): its tombstones would match nothing the servers compute, and
    # the deleted client's pings would be accepted again, without a word.
    server, gone, asked = any_store_server, new_id(), new_id()
    with httpx.Client(timeout=10) as client:
        _send(client, server, gone, DELETED_IP)
        _send(client, server, asked, KEPT_IP, "deletion-request", {"client_id": asked})
    urls = store_urls_of(server)
    before = [dump_store(url) for url in urls]
    elsewhere = [*_store_args(server)]
    elsewhere[elsewhere.index("--data-dir") + 1] = str(tmp_path / "another-host")
    for words in (["delete", gone, *elsewhere], ["process-deletions", *elsewhere],
                  ["delete", gone, *_store_args(server), "--secret-key", "k" * 40]):
        capsys.readouterr()
        if server.option("--database") is None and words[-1] != "k" * 40:
            continue  # SQLite: another data directory holds no store at all
        assert main(["admin", *words]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "not the one the servers use" in err[0], err
    assert [dump_store(url) for url in urls] == before  # no tombstone, no row gone

    assert main(["admin", "delete", gone, *_store_args(server)]) == 0  # the servers' key
    assert main(["admin", "process-deletions", *_store_args(server)]) == 0
    for client_id in (gone, asked):
        assert client_id not in dump_store(urls[0]) + dump_store(urls[1])
    with httpx.Client(timeout=10) as client:
        _send(client, server, gone, DELETED_IP)  # accepted (202), and dropped
    assert gone not in dump_store(urls[0]) + dump_store(urls[1])


def test_an_export_is_private_whatever_was_at_its_path(tmp_path, capsys):
    # The file holds the client's addresses: mode 0600 even over a file readable by all
    # (truncating it kept its mode), and a link at the path is replaced, never written through.
    import os
    import stat

    from population import Ping, insert
    from sempervirens.store import open_stores

    data, asked = tmp_path / "data", new_id()
    assert main(["init", "--data-dir", str(data)]) == 0
    stores = open_stores(data)
    insert(stores, [Ping("numpy", asked, date.today(), ip=DELETED_IP)])
    stores.dispose()
    readable, elsewhere, link = tmp_path / "old.json", tmp_path / "elsewhere", tmp_path / "l.json"
    readable.write_text("{}")
    readable.chmod(0o644)
    elsewhere.write_text("someone else's file")
    elsewhere.chmod(0o644)
    os.symlink(elsewhere, link)
    for path in (readable, link):
        assert main(["admin", "export", asked, "-o", str(path), "--data-dir", str(data)]) == 0
        assert not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) == 0o600
        assert DELETED_IP in path.read_text()
    assert elsewhere.read_text() == "someone else's file"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".export-")] == []
