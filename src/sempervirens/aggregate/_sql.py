"""The SQL that differs between SQLite and PostgreSQL, in one place.

The private aggregates (institutions, anomalies, retention) run as SQL in the private
store, written once in the SQL both understand.  Column "interval" is always quoted: it is
a keyword in PostgreSQL.
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

    def period_start(self, interval: str, day: str = "day") -> str:
        """The first day of the period holding `day`; ISO weeks start on Monday."""
        if interval == "day":
            return day
        if self.pg:
            return f"date_trunc('{interval}', {day})::date"
        if interval == "week":  # %w: 0 is Sunday
            return f"date({day}, '-' || ((CAST(strftime('%w', {day}) AS INTEGER) + 6) % 7) || ' days')"
        return f"date({day}, 'start of month')"

    def utc_day(self, timestamp: str) -> str:
        """The UTC date of a stored timestamp (SQLite keeps UTC text, PostgreSQL timestamptz)."""
        return f"({timestamp} AT TIME ZONE 'UTC')::date" if self.pg else f"date({timestamp})"

    def temp_table(self, name: str, select: str) -> str:
        return f"CREATE TEMPORARY TABLE {name} AS {select}"


def dialect_of(connection) -> Dialect:
    return Dialect(connection.dialect.name)
