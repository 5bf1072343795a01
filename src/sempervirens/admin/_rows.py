"""Database rows as JSON-ready dicts (the private API and the export both answer in JSON)."""

from __future__ import annotations

from datetime import date, datetime, timezone


def json_rows(result, drop: tuple[str, ...] = ()) -> list[dict]:
    return [{k: _plain(v) for k, v in row.items() if k not in drop} for row in result.mappings()]


def _plain(value):
    if isinstance(value, datetime):  # stored as UTC; SQLite gives it back naive
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value
