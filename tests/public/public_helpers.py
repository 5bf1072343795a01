"""Helpers shared by the public tests (plain functions; the fixtures stay in conftest.py)."""

from __future__ import annotations
from _services.server import RunningServer


def table_rows(server: RunningServer, table: str, **where) -> list[dict]:
    """Rows of a public table read straight from the store file, as an operator would."""
    clause = " AND ".join(f'"{k}" = ?' for k in where) or "1"
    return server.query("telemetry", f"SELECT * FROM {table} WHERE {clause}", tuple(where.values()))
