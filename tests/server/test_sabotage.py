"""Sabotage: what other clients send cannot stop a deletion, and an opt-out records the event only."""

from __future__ import annotations

import sqlite3

import httpx
import pytest

from _services.dump import dump_store, store_urls_of
from _services.server import start_server
from pings import new_id, post, usage
from sempervirens.cli import main
from sempervirens.store import create_store_engine


@pytest.mark.slow
def test_a_victims_uuid_inside_other_clients_data_does_not_stop_its_deletion(server, capsys):
    victim, saboteur = new_id(), new_id()
    with httpx.Client(timeout=10) as client:
        assert post(client, server.url, usage(victim)).status_code == 202
        # Through the server, the victim's UUID cannot be planted in a label any more ...
        planted = post(client, server.url, usage(saboteur, metrics={"labeled_counters": {"io.read": {victim: 1}}}))
        assert planted.status_code == 400 and planted.json()["error"]["code"] == "invalid_field"
        # ... and a traceback holding it is stored with the UUID scrubbed.
        crash = usage(saboteur, crash={"exception_type": "ValueError", "traceback": f"user {victim} failed"})
        assert post(client, server.url, crash, ping_type="crash").status_code == 202
    assert dump_store(store_urls_of(server)[0]).count(victim) == 1  # its own ping's client_id only
    # Data from before the validator refused such strings: planted straight into the store.
    with sqlite3.connect(server.data_dir / "telemetry.db") as connection:
        connection.execute("UPDATE pings SET crash_traceback = ? WHERE client_id = ?", (f"see {victim}", saboteur))
    assert main(["admin", "delete", victim, "--data-dir", str(server.data_dir)]) == 0
    assert "deleted 1 client" in capsys.readouterr().err
    rows = server.pings()
    assert {row["client_id"] for row in rows} == {saboteur}  # the victim's rows are gone, the other's stay
    assert all(row["client_id"] != victim for row in server.access_log())


@pytest.fixture
def any_store_server(tmp_path, database_args):
    running = start_server(tmp_path / "data", extra_args=("--trusted-proxies", "127.0.0.1", *database_args))
    yield running
    running.stop()


def test_an_opt_out_records_the_event_only(any_store_server):
    server = any_store_server
    document_id = new_id()
    body = {"project_version": "2.1.0", "library": {"name": "sempervirens-python", "version": "0.1.0"},
            "period": {"start": "2026-11-29T10:00:00Z", "end": "2026-11-29T11:00:00Z"},
            "environment": {"os": "Linux", "arch": "x86_64", "python_version": "3.11.7", "cpu_count": 8,
                            "ci": False, "platform_tag": "manylinux_2_36_x86_64"},
            "dropped": {"spool_full": 2}}
    with httpx.Client(timeout=10) as client:
        for _ in range(2):  # a resend is stored once
            reply = post(client, server.url, body, project="NumPy", ping_type="opt-out", document_id=document_id,
                         headers={"X-Forwarded-For": "198.51.100.42"})
            assert reply.status_code == 202, reply.text
        assert post(client, server.url, usage(), headers={"X-Forwarded-For": "198.51.100.43"}).status_code == 202
    telemetry_url, private_url = store_urls_of(server)
    engine = create_store_engine(telemetry_url)
    try:
        with engine.connect() as connection:
            row = connection.exec_driver_sql(
                "SELECT * FROM pings WHERE ping_type = 'opt-out'").mappings().one()
    finally:
        engine.dispose()
    kept = {"document_id", "project", "ping_type", "project_version", "received_at", "day"}
    assert {name for name, value in row.items() if value is not None} == kept
    assert (row["document_id"], row["project"], row["project_version"]) == (document_id, "numpy", "2.1.0")
    received = row["received_at"]
    if isinstance(received, str):  # SQLite returns the text
        assert received.endswith("00:00:00.000000"), received
    else:
        assert (received.hour, received.minute, received.second, received.microsecond) == (0, 0, 0, 0)
        assert str(row["day"]) == received.date().isoformat()
    private = dump_store(private_url)
    assert "198.51.100.42" not in private and document_id not in private  # no access-log line, no address
    assert "198.51.100.43" in private  # usage pings are logged as before
    assert "198.51.100.42" not in server.log()
