"""Every store call of the server has a deadline: statements on both stores, and pages.

A slow statement is cancelled by the store itself (PostgreSQL's statement_timeout) or
interrupted (SQLite's progress handler); a store that does not answer at all (frozen
with SIGSTOP) still gets a page answered 503 with Retry-After within store_timeout.
"""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import exc, text

from _services.server import start_server
from sempervirens.store import create_store_engine

ENDLESS = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r"


def test_a_slow_sqlite_statement_is_interrupted_and_the_connection_stays_usable(tmp_path):
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.db'}", statement_timeout=0.3)
    try:
        with engine.connect() as connection:
            with pytest.raises(exc.OperationalError, match="interrupted"):
                connection.execute(text(ENDLESS))
            assert connection.execute(text("SELECT 1")).scalar() == 1  # the next statement has its own
    finally:
        engine.dispose()


def test_without_a_deadline_sqlite_statements_are_not_interrupted(tmp_path):
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with engine.connect() as connection:
            counted = connection.execute(text(
                "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 3000000) "
                "SELECT count(*) FROM r")).scalar()
        assert counted == 3000000
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_slow_postgres_statement_is_cancelled_by_the_server(postgres):
    engine = create_store_engine(postgres.create_database("deadline"), statement_timeout=0.3)
    try:
        with engine.connect() as connection:
            with pytest.raises(exc.OperationalError, match="statement timeout"):
                connection.execute(text("SELECT pg_sleep(30)"))
        with engine.connect() as connection:
            assert connection.execute(text("SHOW statement_timeout")).scalar() == "300ms"
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_a_page_on_a_frozen_postgres_answers_503_within_its_deadline(tmp_path):
    from _services.postgres import start_cluster

    cluster = start_cluster()  # of this test's own: it is frozen, which others must not see
    server = start_server(tmp_path / "data", extra_args=(
        "--database", cluster.create_database("telemetry"),
        "--private-database", cluster.create_database("private"), "--store-timeout", "1"), timeout=60)
    try:
        with httpx.Client(timeout=15) as client:
            assert client.get(server.url + "/api/v1/projects").status_code == 200
            cluster.freeze()
            try:
                started = time.monotonic()
                replies = [client.get(server.url + path) for path in ("/api/v1/projects", "/")]
                elapsed = time.monotonic() - started
            finally:
                cluster.thaw()
            assert [reply.status_code for reply in replies] == [503, 503]
            assert all(reply.json()["error"]["code"] == "store_unavailable" and
                       int(reply.headers["retry-after"]) > 0 for reply in replies)
            assert elapsed < 2 * 2.0  # 1 s each, the deadline; a hang would be until the thaw
            deadline = time.monotonic() + 20
            while (reply := client.get(server.url + "/api/v1/projects")).status_code != 200:
                assert time.monotonic() < deadline, "pages did not recover after SIGCONT"
                time.sleep(0.2)
        assert "Traceback" not in server.log()
    finally:
        server.stop()
        cluster.thaw()
        cluster.stop()
