"""Alembic migrations build exactly today's tables, once, on SQLite and PostgreSQL;
a store of an older revision keeps its rows, and a store of the hand-written runner
is adopted."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import date, datetime, timezone

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from old_runner import migrations as old_runner  # tests/store/old_runner: fixture data
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    column,
    insert,
    inspect,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.expression import TableClause

from _services.postgres import _bin
from sempervirens.store import create_store_engine, migrations, open_stores, schema
from sempervirens.store._engines import Stores

# Each track's head: one, whatever revisions are added (the tests below hold for all).
HEADS = {track: ScriptDirectory.from_config(migrations.config(track)).get_current_head()
         for track in migrations.TRACKS}


@pytest.fixture
def urls(store_kind, request, tmp_path):
    if store_kind == "sqlite":
        return None, None
    cluster = request.getfixturevalue("postgres")
    return cluster.create_database("telemetry"), cluster.create_database("private")


def _stores(tmp_path, urls, name="data") -> Stores:
    """Engines on a store, unmigrated: each test builds it its own way."""
    return open_stores(tmp_path / name, *urls, migrate=False)


def _metadata(track: str):
    # Their tables join schema's MetaData when imported.
    import sempervirens.admin.tables
    import sempervirens.aggregate.tables
    import sempervirens.release.tables  # noqa: F401

    return schema.telemetry if track == "telemetry" else schema.private


def _differences(engine, track: str) -> list:
    """What Alembic's autogenerate finds between a store and today's MetaData."""
    dialect = engine.dialect.name

    def include(obj, name, type_, reflected, compare_to):
        # schema.PINGS_DAY_INDEXES: one index name, a definition per dialect (ddl_if),
        # which autogenerate does not tell apart.
        condition = getattr(obj, "_ddl_if", None)
        return reflected or condition is None or condition.dialect in (None, dialect)

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True, "compare_server_default": True, "include_object": include})
        return compare_metadata(context, _metadata(track))


def _dump(engine) -> list[str]:
    """The whole schema as the database itself would recreate it: sqlite_master's
    statements, or pg_dump --schema-only (collations, fillfactor, statistics, comments,
    CLUSTER marks, column order)."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            return [" ".join(row) for row in connection.execute(text(
                "SELECT type, name, tbl_name, sql FROM sqlite_master "
                "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"))]
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    out = subprocess.run([_bin("pg_dump"), "--schema-only", "--no-owner", url],
                         check=True, capture_output=True, text=True).stdout
    return [line for line in out.splitlines()
            if line and not line.startswith(("--", "\\restrict", "\\unrestrict"))]


def _tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def _check_head(stores: Stores, fresh: Stores) -> None:
    """At head, no difference with today's MetaData nor with a store migrated from empty."""
    for track in migrations.TRACKS:
        engine, other = getattr(stores, track), getattr(fresh, track)
        assert migrations.current(engine) == (HEADS[track],)
        assert _differences(engine, track) == []
        assert _dump(engine) == _dump(other)
        assert migrations.OLD_TABLE not in _tables(engine)


@pytest.fixture
def fresh(tmp_path, store_kind, request):
    """Stores migrated from empty by open_stores, as `serve` does."""
    urls = (None, None)
    if store_kind == "postgresql":
        cluster = request.getfixturevalue("postgres")
        urls = cluster.create_database("telemetry"), cluster.create_database("private")
    stores = open_stores(tmp_path / "fresh", *urls)
    yield stores
    stores.dispose()


def test_each_store_has_one_numbered_line_of_revisions():
    """One line of numbered revisions per store (a second head, from two branches that
    each added one, fails here), whose first ones are the old runner's steps."""
    for track in migrations.TRACKS:
        script = ScriptDirectory.from_config(migrations.config(track))
        revisions = [r.revision for r in script.walk_revisions()][::-1]
        assert script.get_heads() == [revisions[-1]]
        assert revisions == [f"{n:04d}" for n in range(1, len(revisions) + 1)]
        steps = migrations.OLD_STEPS[track]
        assert [name[:4] for name in steps] == revisions[:len(steps)]


def test_migrating_an_empty_store_yields_todays_metadata(fresh):
    for track in migrations.TRACKS:
        engine = getattr(fresh, track)
        assert migrations.current(engine) == (HEADS[track],)
        assert _differences(engine, track) == []
        expected = {t.name for t in _metadata(track).sorted_tables} | {"alembic_version"}
        assert _tables(engine) == expected


def test_a_second_start_changes_nothing(tmp_path, urls):
    open_stores(tmp_path / "data", *urls).dispose()
    stores = _stores(tmp_path, urls)
    try:
        before = [_dump(stores.telemetry), _dump(stores.private)]
        migrations.migrate(stores)
        assert [_dump(stores.telemetry), _dump(stores.private)] == before
    finally:
        stores.dispose()


def test_the_sqlite_store_directory_is_private(tmp_path):
    open_stores(tmp_path / "data").dispose()
    assert (tmp_path / "data").stat().st_mode & 0o077 == 0


# -- a store at the oldest revision, with rows, upgraded --------------------------

PINGS = [
    {"document_id": "d1", "project": "demo", "ping_type": "usage", "client_id": "c1",
     "received_at": datetime(2026, 11, 1, 12, tzinfo=timezone.utc), "day": date(2026, 11, 1),
     "project_version": "1.0", "os": "Linux", "is_ci": False, "cpu_count": 4,
     "memory_total": 2**34, "metrics": {"counters": {"runs": 3}}, "crash_traceback": None},
    {"document_id": "d2", "project": "demo", "ping_type": "crash", "client_id": "c2",
     "received_at": datetime(2026, 11, 2, 8, tzinfo=timezone.utc), "day": date(2026, 11, 2),
     "project_version": None, "os": None, "is_ci": True, "cpu_count": None,
     "memory_total": None, "metrics": None, "crash_traceback": "Traceback ... é ✓"},
]
ACCESS_LOG = [
    {"received_at": datetime(2026, 11, 1, 12, tzinfo=timezone.utc), "ip": "192.0.2.1",
     "project": "demo", "ping_type": "usage", "client_id": "c1", "document_id": "d1"},
    {"received_at": datetime(2026, 11, 2, 8, tzinfo=timezone.utc), "ip": "2001:db8::1",
     "project": "demo", "ping_type": "crash", "client_id": None, "document_id": "d2"},
]


TYPES = {"received_at": DateTime(timezone=True), "registered_at": DateTime(timezone=True),
         "applied_at": DateTime(timezone=True), "day": Date(), "is_ci": Boolean(),
         "metrics": JSON().with_variant(JSONB(), "postgresql")}


def _table(name: str, names) -> TableClause:
    """The columns of a table that a test reads and writes, typed as the revisions made
    them (not today's tables, which others change)."""
    return table(name, *(column(n, TYPES.get(n)) for n in names))


def _insert(engine, name: str, rows: list[dict]) -> None:
    with engine.begin() as connection:
        connection.execute(insert(_table(name, rows[0])), rows)


def _read(engine, name: str, rows: list[dict], order: str) -> list[dict]:
    target = _table(name, rows[0])
    with engine.connect() as connection:
        read = [dict(row) for row in connection.execute(
            select(target).order_by(text(order))).mappings()]
    for row in read:
        for key, value in row.items():
            if isinstance(value, datetime) and value.tzinfo is None:  # SQLite keeps no zone
                row[key] = value.replace(tzinfo=timezone.utc)
    return read


def test_a_store_at_the_oldest_revision_keeps_its_rows_up_to_head(tmp_path, urls, fresh):
    stores = _stores(tmp_path, urls)
    try:
        for track in migrations.TRACKS:
            migrations.upgrade(getattr(stores, track), track, "0001")
            assert migrations.current(getattr(stores, track)) == ("0001",)
        assert _tables(stores.telemetry) == {"alembic_version", "pings", "projects"}
        _insert(stores.telemetry, "pings", PINGS)
        _insert(stores.telemetry, "projects", [
            {"name": "demo", "registered_at": datetime(2026, 10, 1, tzinfo=timezone.utc)}])
        _insert(stores.private, "access_log", ACCESS_LOG)
        if stores.telemetry.dialect.name == "postgresql":  # 0007 and 0004 have work to do
            assert _dump(stores.telemetry) != _dump(fresh.telemetry)
            with stores.telemetry.connect() as connection:
                assert connection.scalar(text(
                    "SELECT collation_name FROM information_schema.columns "
                    "WHERE table_name = 'pings' AND column_name = 'client_id'")) is None

        migrations.migrate(stores)

        _check_head(stores, fresh)
        assert _read(stores.telemetry, "pings", PINGS, "document_id") == PINGS
        assert _read(stores.private, "access_log", ACCESS_LOG, "id") == ACCESS_LOG
        with stores.private.connect() as connection:  # 0005 gave each logged row its network
            assert dict(connection.execute(text("SELECT ip, network FROM access_log")).all()) \
                == {"192.0.2.1": None, "2001:db8::1": "2001:db8::/64"}
        with stores.telemetry.connect() as connection:
            assert connection.execute(text("SELECT name FROM projects")).scalars().all() == ["demo"]
    finally:
        stores.dispose()


def test_postgresql_compares_every_string_byte_by_byte(tmp_path, postgres):
    """A store at 0006 / 0003 (its columns in the database's collation) is migrated:
    then no string column of either store is left in another collation."""
    urls = postgres.create_database("telemetry"), postgres.create_database("private")

    def not_bytewise(engine) -> list[tuple[str, str]]:
        with engine.connect() as connection:
            return sorted(connection.execute(text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND collation_name IS DISTINCT FROM 'C' "
                "AND data_type IN ('character varying', 'text') "
                "AND table_name <> 'alembic_version'")).all())

    stores = _stores(tmp_path, urls)
    try:
        migrations.upgrade(stores.telemetry, "telemetry", "0006")
        migrations.upgrade(stores.private, "private", "0003")
        assert ("pings", "client_id") in not_bytewise(stores.telemetry)
        assert ("access_log", "ip") in not_bytewise(stores.private)
        migrations.migrate(stores)
        assert not_bytewise(stores.telemetry) == not_bytewise(stores.private) == []
    finally:
        stores.dispose()


# -- stores of the hand-written runner (tests/store/old_runner) -------------------

def _old_runner(stores: Stores, telemetry_steps: int = 7, private_steps: int = 4) -> None:
    old_runner._apply(stores.telemetry, old_runner.TELEMETRY[:telemetry_steps])
    old_runner._apply(stores.private, old_runner.PRIVATE[:private_steps])


def test_a_store_of_the_old_runner_is_stamped_and_keeps_its_rows(tmp_path, urls, fresh):
    stores = _stores(tmp_path, urls)
    try:
        _old_runner(stores)
        _insert(stores.telemetry, "pings", PINGS)
        _insert(stores.private, "access_log", ACCESS_LOG)
        with stores.telemetry.begin() as connection:  # 0001 (were it run again) would fail
            connection.execute(text(
                "INSERT INTO projects (name, registered_at) VALUES ('demo', '2026-11-02')"))

        migrations.migrate(stores)

        _check_head(stores, fresh)
        assert _read(stores.telemetry, "pings", PINGS, "document_id") == PINGS
        assert _read(stores.private, "access_log", ACCESS_LOG, "id") == ACCESS_LOG
        with stores.private.connect() as connection:  # 0005 gave each logged row its network
            assert dict(connection.execute(text("SELECT ip, network FROM access_log")).all()) \
                == {"192.0.2.1": None, "2001:db8::1": "2001:db8::/64"}
        with stores.telemetry.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM projects")) == 1
    finally:
        stores.dispose()


def test_a_store_the_old_runner_left_part_way_continues_from_its_last_step(
        tmp_path, urls, fresh):
    stores = _stores(tmp_path, urls)
    try:
        _old_runner(stores, telemetry_steps=4, private_steps=2)
        with stores.telemetry.begin() as connection:
            connection.execute(text(
                "INSERT INTO rollup_periods VALUES ('week', '2026-11-02', '2026-11-03', false)"))

        migrations.upgrade(stores.telemetry, "telemetry", "0007")
        with stores.telemetry.connect() as connection:  # 0005 ran: the period is rebuilt
            assert connection.execute(text("SELECT pruned FROM rollup_periods")).scalars().all() \
                in ([True], [1])
        migrations.migrate(stores)
        _check_head(stores, fresh)
    finally:
        stores.dispose()


def test_a_store_with_steps_the_revisions_do_not_know_is_left_alone(tmp_path):
    stores = _stores(tmp_path, (None, None))
    try:
        _old_runner(stores)
        with stores.telemetry.begin() as connection:
            connection.execute(old_runner.applied.insert().values(
                name="0008_someone_elses", applied_at=datetime.now(timezone.utc)))
        with pytest.raises(RuntimeError, match="0008_someone_elses"):
            migrations.migrate(stores)
        assert migrations.OLD_TABLE in _tables(stores.telemetry)
        assert migrations.current(stores.telemetry) == ()
    finally:
        stores.dispose()


# -- several workers at once --------------------------------------------------------

MIGRATE = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
from sempervirens.store import migrations, open_stores
logging.getLogger("alembic").setLevel(logging.INFO)  # quiet by default: see each upgrade
open_stores(sys.argv[1], sys.argv[2], sys.argv[3]).dispose()
"""


@pytest.mark.postgres
def test_processes_starting_at_once_migrate_once(tmp_path, postgres):
    """Two processes migrate the same stores at once: both wait on the lock while
    a third holds it, then one migrates and the other finds nothing to do."""
    urls = postgres.create_database("telemetry"), postgres.create_database("private")
    telemetry = create_store_engine(urls[0])
    holder = psycopg.connect(urls[0], autocommit=True)
    try:
        holder.execute(f"SELECT pg_advisory_lock({migrations.LOCK_ID})")
        workers = [subprocess.Popen([sys.executable, "-c", MIGRATE, str(tmp_path / "data"), *urls],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                   for _ in range(2)]
        deadline = time.monotonic() + 60
        while True:  # both are waiting for the lock, neither has begun
            waiting = holder.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND objid = %s AND database = (SELECT oid FROM pg_database "
                "WHERE datname = current_database())", (migrations.LOCK_ID,)).fetchone()[0]
            if waiting == 2:
                break
            assert all(worker.poll() is None for worker in workers), \
                [worker.communicate()[0] for worker in workers]
            assert time.monotonic() < deadline, "the workers did not wait for the lock"
            time.sleep(0.05)
        assert migrations.current(telemetry) == ()
        holder.execute(f"SELECT pg_advisory_unlock({migrations.LOCK_ID})")
        outputs = [worker.communicate(timeout=90)[0] for worker in workers]
        assert [worker.returncode for worker in workers] == [0, 0], outputs
    finally:
        holder.close()
        telemetry.dispose()
    ran = [line for output in outputs for line in output.splitlines() if "Running upgrade" in line]
    assert len(ran) == len(set(ran)) == sum(int(head) for head in HEADS.values()), outputs
    stores = open_stores(tmp_path / "data", *urls, migrate=False)
    try:
        assert migrations.current(stores.telemetry) == (HEADS["telemetry"],)
        assert migrations.current(stores.private) == (HEADS["private"],)
    finally:
        stores.dispose()


# -- a new revision ---------------------------------------------------------------

def test_a_new_revision_is_written_from_the_template_and_runs(tmp_path, monkeypatch):
    revisions = tmp_path / "revisions"
    shutil.copytree(migrations.REVISIONS, revisions,
                    ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrations, "REVISIONS", revisions)
    migrations.main(["revision", "telemetry", "-m", "Pings: a breakdown column"])
    head = HEADS["telemetry"]
    new = f"{int(head) + 1:04d}"
    created = revisions / "telemetry" / f"{new}_pings_a_breakdown_column.py"
    source = created.read_text()
    assert f"revision = '{new}'" in source and f"down_revision = '{head}'" in source
    assert "of the telemetry store" in source
    source = source.replace(
        "    pass\n", "    op.add_column('pings', sa.Column('test_only', _string(64)))\n", 1)
    created.write_text(source)

    stores = open_stores(tmp_path / "data")
    try:
        assert migrations.current(stores.telemetry) == (new,)
        assert migrations.current(stores.private) == (HEADS["private"],)
        with stores.telemetry.connect() as connection:
            columns = [row[1] for row in connection.exec_driver_sql("PRAGMA table_info(pings)")]
        assert columns[-1] == "test_only"
    finally:
        stores.dispose()



def test_a_sqlite_store_outside_the_data_directory_is_made_for_its_owner_alone(tmp_path):
    """Under a umask of 022, SQLite made a store given by URL 0644, and its -wal beside
    it: the private store's addresses were readable by every local user."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    previous = os.umask(0o022)
    try:
        stores = open_stores(tmp_path / "data", f"sqlite:///{elsewhere / 't.db'}",
                             f"sqlite:///{elsewhere / 'p.db'}")
        with stores.private.begin() as connection:
            connection.execute(text("DELETE FROM access_log"))
        stores.dispose()
    finally:
        os.umask(previous)
    files = sorted(elsewhere.iterdir())
    assert {p.name for p in files} >= {"t.db", "p.db"}
    assert {p.name: p.stat().st_mode & 0o777 for p in files} == {p.name: 0o600 for p in files}
