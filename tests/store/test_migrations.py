"""Migrations build exactly the tables of schema.py, once, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select

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
