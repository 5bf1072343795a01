"""The SQL that differs between SQLite and PostgreSQL, in one place.

The SQL run in the private store (the origins given to the engine, anomalies, retention,
the days to aggregate) is written once in the SQL both understand; only these values and
expressions differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone


@dataclass(frozen=True)
class Dialect:
    name: str  # "sqlite" or "postgresql"

    @property
    def pg(self) -> bool:
        return self.name == "postgresql"

    def date(self, value: date):
        # SQLite stores dates as ISO text; binding a date object there relies on
        # sqlite3's deprecated default adapter.
        return value if self.pg else value.isoformat()

    def timestamp(self, value: date):
        """Midnight UTC of a day, comparable with a stored received_at."""
        if self.pg:
            return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
        return value.isoformat()  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC text

    def instant(self, value: datetime):
        """A UTC datetime in the form the store keeps (the writer's form on SQLite)."""
        if self.pg:
            return value
        return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")

    def utc_day(self, timestamp: str) -> str:
        """The UTC date of a stored timestamp (SQLite keeps UTC text, PostgreSQL timestamptz)."""
        return f"({timestamp} AT TIME ZONE 'UTC')::date" if self.pg else f"date({timestamp})"


def as_date(value) -> date:
    """The day of a date or timestamp column as the store returns it: text on SQLite, a
    date or datetime on PostgreSQL."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def dialect_of(connection) -> Dialect:
    return Dialect(connection.dialect.name)
