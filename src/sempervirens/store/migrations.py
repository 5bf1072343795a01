"""Ordered schema migrations of both stores, recorded in each database.

A migration is applied once, in order, inside a transaction, and recorded in the
table `sempervirens_migrations` of its store.  schema.py shows the current
tables; a change to a table that already shipped is a new migration here (a test
checks that migrating an empty database yields exactly schema.py).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import Column, Connection, DateTime, MetaData, Table, inspect, select, text

from . import schema
from ..aggregate import tables as aggregate_tables
from ..admin import tables as admin_tables

_record = MetaData()
applied = Table(
    "sempervirens_migrations", _record,
    Column("name", schema.String(200), primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)


def _create(*tables: Table) -> Callable[[Connection], None]:
    def apply(connection: Connection) -> None:
        for table in tables:
            table.create(connection)
    return apply


def _rollups(connection: Connection) -> None:
    """Rollups kept between cycles, and the pings index that reads clients in order."""
    connection.exec_driver_sql("DROP INDEX IF EXISTS ix_pings_day_project")
    _pings_day_index(connection)
    if connection.dialect.name == "postgresql":
        # Tells the planner how many (day, project, client) groups there are, so it
        # streams them from the index instead of hashing millions in memory.
        connection.exec_driver_sql("CREATE STATISTICS IF NOT EXISTS pings_day_project_client "
                                   "(ndistinct) ON day, project, client_id FROM pings")
    _create(*aggregate_tables.ROLLUP_TABLES)(connection)


def _pings_day_index(connection: Connection) -> None:
    """The pings' index in (day, project, client, report) order (schema.py)."""
    connection.exec_driver_sql("DROP INDEX IF EXISTS ix_pings_day_client")
    for index in schema.PINGS_DAY_INDEXES:
        index.create(connection, checkfirst=True)


def _rollup_cell_sets(connection: Connection) -> None:
    """rollup_members (a row per cell and client) gives way to a set of cell numbers
    in rollup_clients, and rollup_profiles to rollup_parts.  The rollups are derived
    data: the open periods are marked pruned, so the next cycle rebuilds them."""
    for name in ("rollup_members", "rollup_profiles"):
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
    for table in (aggregate_tables.rollup_clients, aggregate_tables.rollup_cells):
        table.drop(connection, checkfirst=True)
        table.create(connection)
    aggregate_tables.rollup_parts.create(connection, checkfirst=True)
    connection.execute(aggregate_tables.rollup_periods.update().values(pruned=True))


def _bitmaps_fillfactor(connection: Connection) -> None:
    """Room on the bitmaps' pages for each day's updates (aggregate/tables.py); CLUSTER
    rewrites the pages there are (in key order, as they are merged)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("ALTER TABLE client_days_seen SET "
                                   f"(fillfactor = {aggregate_tables.BITMAPS_FILLFACTOR})")
        connection.exec_driver_sql("CLUSTER client_days_seen USING client_days_seen_pkey")


def _bytewise_strings(connection: Connection) -> None:
    """PostgreSQL: every string column compared byte by byte, as schema.String
    declares them now (the indexes that hold them are rebuilt; no table is)."""
    if connection.dialect.name != "postgresql":
        return
    columns = connection.execute(text("""
        SELECT c.table_name, c.column_name, c.data_type, c.character_maximum_length
        FROM information_schema.columns c JOIN information_schema.tables t
          ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
          AND c.collation_name IS DISTINCT FROM 'C'
          AND c.data_type IN ('character varying', 'text')
        ORDER BY c.table_name, c.ordinal_position"""))
    by_table: dict[str, list[str]] = {}
    for table, column, kind, length in columns:
        declared = "TEXT" if kind == "text" else f"VARCHAR({length})" if length else "VARCHAR"
        by_table.setdefault(table, []).append(
            f'ALTER COLUMN "{column}" TYPE {declared} COLLATE "C"')
    for table, changes in by_table.items():  # one statement: each index rebuilt once
        connection.exec_driver_sql(f'ALTER TABLE "{table}" {", ".join(changes)}')


def _project_declarations(connection: Connection) -> None:
    """projects.declaration and declared_at (a store made by 0001 before they existed).
    Temporary: to be converted to an Alembic revision."""
    present = {c["name"] for c in inspect(connection).get_columns("projects")}
    for column in (schema.projects.c.declaration, schema.projects.c.declared_at):
        if column.name not in present:
            kind = column.type.compile(dialect=connection.dialect)
            connection.exec_driver_sql(f"ALTER TABLE projects ADD COLUMN {column.name} {kind}")


# (name, function) per store, in the order they apply.  Never edit a shipped one.
TELEMETRY = [
    ("0001_pings_and_projects", _create(schema.pings, schema.projects)),
    ("0002_aggregate_tables", _create(*aggregate_tables.TELEMETRY_TABLES)),
    ("0003_rollups", _rollups),
    ("0004_pings_day_client_report", _pings_day_index),
    ("0005_rollup_cell_sets", _rollup_cell_sets),
    ("0006_bitmaps_fillfactor", _bitmaps_fillfactor),
    ("0007_bytewise_strings", _bytewise_strings),
    ("0008_project_declarations", _project_declarations),
]
PRIVATE = [
    ("0001_access_log", _create(schema.access_log)),
    ("0002_aggregate_tables", _create(*aggregate_tables.PRIVATE_TABLES)),
    ("0003_admin_tables", _create(*admin_tables.PRIVATE_TABLES)),
    ("0004_bytewise_strings", _bytewise_strings),
]


def migrate(stores) -> None:
    _apply(stores.telemetry, TELEMETRY)
    _apply(stores.private, PRIVATE)


def _apply(engine, migrations) -> None:
    with engine.begin() as connection:
        applied.create(connection, checkfirst=True)
    for name, function in migrations:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                # Several workers may start at once: one migrates, the others wait.
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7411)")
            done = connection.execute(select(applied.c.name).where(applied.c.name == name)).first()
            if done:
                continue
            function(connection)
            connection.execute(applied.insert().values(name=name, applied_at=datetime.now(timezone.utc)))
