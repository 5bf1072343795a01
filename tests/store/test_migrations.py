"""Migrations build exactly the tables of schema.py, once, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select, text

from sempervirens.store import migrations, open_stores, schema


@pytest.fixture
def urls(store_kind, request, tmp_path):
    if store_kind == "sqlite":
        return None, None
    cluster = request.getfixturevalue("postgres")
    return cluster.create_database("telemetry"), cluster.create_database("private")


def _columns(engine) -> dict[str, set[str]]:
    inspector = inspect(engine)
    return {table: {c["name"] for c in inspector.get_columns(table)} for table in inspector.get_table_names()
            if table != migrations.applied.name}


def test_migrating_an_empty_store_yields_the_schema(tmp_path, urls):
    stores = open_stores(tmp_path, *urls)
    try:
        for engine, metadata in ((stores.telemetry, schema.telemetry), (stores.private, schema.private)):
            expected = {t.name: {c.name for c in t.columns} for t in metadata.sorted_tables}
            assert _columns(engine) == expected
    finally:
        stores.dispose()


def test_migrations_apply_once_and_are_recorded(tmp_path, urls):
    open_stores(tmp_path, *urls).dispose()
    stores = open_stores(tmp_path, *urls)  # a second start changes nothing
    try:
        with stores.telemetry.connect() as connection:
            recorded = list(connection.execute(select(migrations.applied.c.name)).scalars())
        assert sorted(recorded) == sorted(name for name, _ in migrations.TELEMETRY)
    finally:
        stores.dispose()


def test_the_sqlite_store_directory_is_private(tmp_path):
    open_stores(tmp_path / "data").dispose()
    assert (tmp_path / "data").stat().st_mode & 0o077 == 0


def _not_bytewise(engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        return connection.execute(text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND collation_name IS DISTINCT FROM 'C' "
            "AND data_type IN ('character varying', 'text')")).all()


def test_postgresql_compares_every_string_byte_by_byte(tmp_path, postgres):
    """A store made before 0007 (its columns in the database's collation) is
    migrated: then no string column of either store is left in another collation."""
    urls = postgres.create_database("telemetry"), postgres.create_database("private")
    stores = open_stores(tmp_path, *urls)
    try:
        assert _not_bytewise(stores.telemetry) == _not_bytewise(stores.private) == []
        with stores.telemetry.begin() as connection:  # as 0001-0006 had made them
            connection.execute(text(
                'ALTER TABLE pings ALTER COLUMN client_id TYPE VARCHAR(36) COLLATE "default", '
                'ALTER COLUMN crash_traceback TYPE TEXT COLLATE "default"'))
            connection.execute(migrations.applied.delete().where(
                migrations.applied.c.name == "0007_bytewise_strings"))
        assert sorted(_not_bytewise(stores.telemetry)) == [("pings", "client_id"),
                                                           ("pings", "crash_traceback")]
    finally:
        stores.dispose()
    stores = open_stores(tmp_path, *urls)
    try:
        assert _not_bytewise(stores.telemetry) == []
    finally:
        stores.dispose()
