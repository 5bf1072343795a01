"""Helpers shared by the aggregate tests (plain functions; the fixtures stay in conftest.py)."""

from __future__ import annotations

from sqlalchemy import select

from sempervirens.aggregate import tables


def snapshot(stores) -> dict[str, list[tuple]]:
    """Every row of every public table except the freshness stamp, sorted."""
    out = {}
    with stores.telemetry.connect() as connection:
        for table in tables.PUBLIC_TABLES:
            rows = connection.execute(select(table)).all()
            out[table.name] = sorted(tuple(str(v) for v in row) for row in rows
                                     if not (table is tables.public_parameters
                                             and row.name == "updated_at"))
    return out


def rows(stores, table, **where) -> list:
    query = select(table)
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    engine = stores.private if table.metadata is tables.private else stores.telemetry
    with engine.connect() as connection:
        return connection.execute(query).all()
