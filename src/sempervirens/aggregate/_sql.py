"""The SQL that differs between SQLite and PostgreSQL, in one place.

Everything else in this package is written once, in the SQL both understand
(CTEs, window functions, ON CONFLICT).  Column "interval" is always quoted: it is
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

    @property
    def string(self) -> str:
        """The type of a string column, compared as the stores' are (store/schema.py)."""
        return 'VARCHAR COLLATE "C"' if self.pg else "VARCHAR"

    def date(self, value: date):
        # SQLite stores dates as ISO text; binding a date object there relies on
        # sqlite3's deprecated default adapter.
        return value if self.pg else value.isoformat()

    def date_literal(self, value: date) -> str:
        """A day as SQL text (for a view, which takes no bound parameters)."""
        day = date.fromordinal(value.toordinal()).isoformat()  # digits and dashes only
        return f"DATE '{day}'" if self.pg else f"'{day}'"

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

    def desc(self, column: str) -> str:
        """Descending, NULLs last (SQLite's own order for DESC, and no NULLS LAST before 3.30)."""
        return f"{column} DESC NULLS LAST" if self.pg else f"{column} DESC"

    def bool_text(self, expression: str) -> str:
        """'true' / 'false' / NULL."""
        return (f"CASE WHEN {expression} THEN 'true' WHEN NOT {expression} THEN 'false' END"
                if self.pg else
                f"CASE {expression} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END")

    def minor_version(self, column: str) -> str:
        """'3.11.7' -> '3.11' (a coarser value, hence bigger cells)."""
        if self.pg:
            return f"coalesce(substring({column} from '^[0-9]+\\.[0-9]+'), {column})"
        rest = f"substr({column}, instr({column}, '.') + 1)"
        return (f"CASE WHEN instr({rest}, '.') > 0 "
                f"THEN substr({column}, 1, instr({column}, '.') + instr({rest}, '.') - 1) "
                f"ELSE {column} END")

    def counters(self, alias: str = "p") -> tuple[str, str, str, str]:
        """FROM-clause addition, metric, label, count for plain counters."""
        if self.pg:
            return (f"CROSS JOIN LATERAL jsonb_each_text({alias}.metrics->'counters') c",
                    "c.key", "''", "c.value::bigint")
        return (f"CROSS JOIN json_each({alias}.metrics, '$.counters') c", "c.key", "''", "c.value")

    def labeled_counters(self, alias: str = "p") -> tuple[str, str, str, str]:
        if self.pg:
            return ((f"CROSS JOIN LATERAL jsonb_each({alias}.metrics->'labeled_counters') m "
                     "CROSS JOIN LATERAL jsonb_each_text(m.value) l"),
                    "m.key", "l.key", "l.value::bigint")
        return ((f"CROSS JOIN json_each({alias}.metrics, '$.labeled_counters') m "
                 "CROSS JOIN json_each(m.value) l"), "m.key", "l.key", "l.value")

    def timing_buckets(self, alias: str = "p") -> tuple[str, str, str, str]:
        """FROM-clause addition, metric, bucket (int), count."""
        if self.pg:
            return ((f"CROSS JOIN LATERAL jsonb_each({alias}.metrics->'timings') t "
                     "CROSS JOIN LATERAL jsonb_each_text(t.value->'buckets') b"),
                    "t.key", "b.key::integer", "b.value::bigint")
        return ((f"CROSS JOIN json_each({alias}.metrics, '$.timings') t "
                 "CROSS JOIN json_each(t.value, '$.buckets') b"),
                "t.key", "CAST(b.key AS INTEGER)", "b.value")

    def days_between(self, later: str, earlier: str) -> str:
        """Whole days from `earlier` to `later` (two dates), as an integer."""
        if self.pg:
            return f"({later} - {earlier})"
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"

    def contains(self, text: str, part: str) -> str:
        return f"strpos({text}, {part}) > 0" if self.pg else f"instr({text}, {part}) > 0"

    def joined(self, integer: str) -> str:
        """Aggregate: the integers, comma-separated, each followed by a comma ('3,17,')."""
        if self.pg:
            return f"string_agg({integer}::text || ',', '')"
        return f"group_concat({integer} || ',', '')"

    def numbers(self, listed: str) -> tuple[str, str]:
        """FROM-clause addition and value: one row per number of a ',3,17,' list."""
        if self.pg:
            numbers = f"string_to_array(trim(both ',' from {listed}), ',')::integer[]"
            return f"CROSS JOIN LATERAL unnest({numbers}) n(number)", "n.number"
        return f"CROSS JOIN json_each('[' || trim({listed}, ',') || ']') n", "n.value"

    def temp_table(self, name: str, select: str) -> str:
        return f"CREATE TEMPORARY TABLE {name} AS {select}"

    def shared_table(self, name: str, select: str = "", columns: str = "") -> str:
        """A table that every connection of an aggregation run reads (lanes.py), made
        of a SELECT or, empty, of its columns.  PostgreSQL: unlogged (no WAL: it is
        rebuilt, never recovered), and left alone by autovacuum (the run analyzes
        it, then drops it).  SQLite, whose lanes share one connection: temporary."""
        kind = "UNLOGGED" if self.pg else "TEMPORARY"
        options = " WITH (autovacuum_enabled = false)" if self.pg else ""
        if columns:
            return f"CREATE {kind} TABLE {name} ({columns}){options}"
        return f"CREATE {kind} TABLE {name}{options} AS {select}"


def dialect_of(connection) -> Dialect:
    return Dialect(connection.dialect.name)
