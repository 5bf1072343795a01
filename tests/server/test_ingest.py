"""Ingestion over real HTTP into real stores: what is accepted, and stored once."""

from __future__ import annotations

import time

import httpx
import pytest

from _services.server import start_server
from pings import MINIMAL_OPT_OUT, MINIMAL_USAGE, new_id, post, usage


@pytest.fixture
def client():
    with httpx.Client(timeout=10) as c:
        yield c


@pytest.fixture
def any_store_server(tmp_path, database_args):
    """A server on SQLite or on PostgreSQL (the test runs on both)."""
    running = start_server(tmp_path / "data", extra_args=database_args)
    yield running
    running.stop()


def test_minimal_usage_and_opt_out_pings_are_accepted(server, client):
    client_id = new_id()
    reply = post(client, server.url, {**MINIMAL_USAGE, "client_id": client_id})
    assert reply.status_code == 202, reply.text
    reply = post(client, server.url, MINIMAL_OPT_OUT, ping_type="opt-out")
    assert reply.status_code == 202, reply.text

    opt_out_row, usage_row = sorted(server.pings(), key=lambda row: row["ping_type"])
    assert (usage_row["ping_type"], usage_row["client_id"], usage_row["project_version"]) == (
        "usage", client_id, "1.2.3")
    assert '"io.read_csv":3' in usage_row["metrics"]
    assert opt_out_row["ping_type"] == "opt-out" and opt_out_row["client_id"] is None


def test_a_resend_is_accepted_and_stored_once(server, client):
    document_id = new_id()
    body = usage()
    for _ in range(3):
        assert post(client, server.url, body, document_id=document_id).status_code == 202
    assert [row["document_id"] for row in server.pings()] == [document_id]


def test_every_field_is_stored_in_its_column(any_store_server, client):
    body = usage()
    tags = {"scheduler": "slurm", "container": "none", "notebook": "jupyter", "install": "conda",
            "ci_provider": "gitlab"}
    body["environment"].update(tags)
    document_id = new_id()
    assert post(client, any_store_server.url, body, project="Scikit_Learn",
                document_id=document_id, gzipped=True).status_code == 202
    any_store_server.stop()
    from sqlalchemy import select

    from sempervirens.store import open_stores
    from sempervirens.store.schema import pings

    stores = open_stores(any_store_server.data_dir, any_store_server.option("--database"),
                         any_store_server.option("--private-database"))
    with stores.telemetry.connect() as connection:
        row = connection.execute(select(pings)).mappings().one()
    stores.dispose()
    assert row["document_id"] == document_id
    assert row["project"] == "scikit-learn"  # PEP 503 normalised
    assert row["client_id"] == body["client_id"]
    assert (row["os"], row["arch"], row["python_version"], row["cpu_count"], row["is_ci"]) == (
        "Linux", "x86_64", "3.11.7", 8, False)
    assert row["memory_total"] == 16_000_000_000
    assert row["period_start"].isoformat().startswith("2026-11-29T10:00:00")
    assert row["metrics"] == body["metrics"]
    assert (row["scheduler"], row["container"], row["notebook"], row["install_method"],
            row["ci_provider"]) == tuple(tags.values())


def test_health_check_for_load_balancers(server, client):
    reply = client.get(server.url + "/healthz")
    assert reply.status_code == 200 and reply.json()["status"] == "ok"


def test_openapi_document_describes_the_submit_endpoint(server, client):
    document = client.get(server.url + "/openapi.json").json()
    assert "/submit/{project}/{ping_type}/1/{document_id}" in document["paths"]
    assert set(document["components"]["schemas"]) >= {"usage", "crash", "opt-out", "deletion-request"}


def test_only_registered_projects_when_the_server_says_so(tmp_path, client):
    running = start_server(tmp_path / "data", extra_args=("--registered-projects-only", "true"))
    try:
        reply = post(client, running.url, usage(), project="unknown-project")
        assert reply.status_code == 404
        assert reply.json()["error"]["code"] == "unknown_project"
        import sqlite3

        with sqlite3.connect(running.data_dir / "telemetry.db") as connection:
            connection.execute("INSERT INTO projects (name, registered_at) VALUES ('numpy', '2026-11-29 00:00:00')")
        deadline = time.monotonic() + 5  # the server rereads the registry at most once a second
        while (status := post(client, running.url, usage(), project="NumPy").status_code) == 404:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert status == 202
        assert [row["project"] for row in running.pings()] == ["numpy"]
    finally:
        running.stop()


def test_every_answer_of_submit_carries_the_security_headers(server, client):
    """POST /submit is answered by the application directly (server/app.py), not through
    Starlette's router: its answers, accepted or refused, keep the site's headers."""
    from sempervirens.public.security import HEADERS

    answers = [
        post(client, server.url, usage()),  # 202
        post(client, server.url, None, raw=b"{not json"),  # 400
        post(client, server.url, usage(), ping_type="telemetry"),  # 400: no such type
        post(client, server.url, None, raw=b"x" * (2 * 1024 * 1024)),  # 413
        client.get(f"{server.url}/submit/numpy/usage/1/{new_id()}"),  # 405
    ]
    assert [a.status_code for a in answers] == [202, 400, 400, 413, 405]
    for answer in answers:
        for name, value in HEADERS:
            assert answer.headers[name.decode()] == value.decode(), (answer.status_code, name)
