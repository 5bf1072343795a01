"""The lake's tables: closed UTC days of pings as Parquet, IP-free like the telemetry store.

Layout (Hive partitioning, one directory per table and day, files sorted by project):

    <lake>/manifest.json                        what is sealed: days, files, rows, sha256
    <lake>/pings/day=YYYY-MM-DD/part-0.parquet  one row per ping
    <lake>/counters/day=YYYY-MM-DD/...          one row per (ping, counter[, label])
    <lake>/timings/day=YYYY-MM-DD/...           one row per (ping, timing, bucket)

Metrics are unpacked into long tables at sealing, so that the engine's queries are
plain SQL (GROUP BY, JOIN, windows) that DuckDB and Spark read alike.  `day` is
the partition column, not stored in the files.  A column added later (a new ping field)
is missing from the files of the days sealed before it: readers take it as NULL; a
column removed later (`excluded`, before telemetry revision 0011) is left unread.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ping import COLUMN_JSON, in_lake

# Column types, named once: the lake writer maps them to Arrow types.
STRING, INT32, INT64, BOOL, TIMESTAMP = "string", "int32", "int64", "bool", "timestamp"


@dataclass(frozen=True)
class LakeTable:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, type)
    description: str

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


_PING_KEY = (("document_id", STRING), ("project", STRING), ("client_id", STRING),
             ("ping_type", STRING))

PINGS = LakeTable("pings", (
    *_PING_KEY,
    ("received_at", TIMESTAMP),
    # The ping's fields with a lake column, from the catalogue (model/ping.py); JSON as text.
    *((f.column, STRING if f.column_type == COLUMN_JSON else f.column_type) for f in in_lake()),
), "One row per ping (usage, crash, opt-out), without its metrics.")

COUNTERS = LakeTable("counters", (
    *_PING_KEY,
    ("metric", STRING),
    ("label", STRING),  # '' for a plain counter
    ("value", INT64),
), "Counters and labeled counters: one row per ping, metric and label.")

TIMINGS = LakeTable("timings", (
    *_PING_KEY,
    ("metric", STRING),
    ("bucket", INT32),  # the protocol's log-scale bucket, 0..MAX_BUCKET
    ("count", INT64),
), "Timing histograms: one row per ping, metric and non-empty bucket.")

LAKE_TABLES = (PINGS, COUNTERS, TIMINGS)
PARTITION = "day"  # Hive partition column: day=YYYY-MM-DD
MANIFEST = "manifest.json"
