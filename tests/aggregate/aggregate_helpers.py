"""Helpers shared by the aggregate tests (plain functions; the fixtures stay in conftest.py)."""

from __future__ import annotations

from datetime import date, datetime, time, timezone

from sqlalchemy import select

from sempervirens import settings
from sempervirens.aggregate import tables
from sempervirens.cycle.run import run_cycle


def cycle(stores, data_dir, today: date, *, purge: bool = True, enrich: bool = False, **values):
    """One real cycle at noon UTC of `today`, with these settings over the defaults."""
    config = settings.resolve(data_dir=str(data_dir), **values)
    return run_cycle(stores, config, now=datetime.combine(today, time(12), timezone.utc),
                     purge=purge, enrich=enrich)


def rows(stores, table, **where) -> list:
    query = select(table)
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    engine = stores.private if table.metadata is tables.private else stores.telemetry
    with engine.connect() as connection:
        return connection.execute(query).all()
