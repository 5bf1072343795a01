"""Sealing closed days of the hot store into the lake, and pruning them from it.

A day is sealed once it has ended and a grace period has passed (so that pings
still in a writer's queue at midnight are committed).  Its pings are read from
the store in chunks of CHUNK_ROWS, in project order, each chunk turned into Arrow
and its JSON metrics unpacked by DuckDB in-process into the long tables; each
chunk is appended to the day's three Parquet files as a row group, so memory is
bounded by the chunk, not the day.

Late pings: a ping of a sealed day committed after the seal (a stalled writer, a
host whose clock runs behind) is found the next time, as a document of that day
in the store that the lake does not hold, and sealed as one more file per table
of that day, recorded under the day's "late" in the manifest.  Pruning deletes
only pings whose document the lake holds, so none is lost either way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Engine, Text, cast, delete, or_, select, type_coerce

from ...model.ping import COLUMN_JSON, in_lake
from ..schema import pings
from ._layout import FileEntry, Lake, LakeError, arrow_schema, checkpoint, now_text

log = logging.getLogger("sempervirens.lake")

CHUNK_ROWS = 20_000  # pings per chunk read from the store (and per row group)
DELETE_CHUNK = 500  # document ids per DELETE ... IN (...)
DELETE_BATCH = 20_000  # document ids per transaction when pruning
NOT_SEALED = ("deletion-request",)  # carried out by admin/deletion, never analysed
# A client drops a ping it could not send after 30 days (its spool's age limit): a
# document sent again is looked for in the sealed days this far back.
RESEND_DAYS = 31
_KEY = ("document_id", "project", "client_id", "ping_type")
# The store's columns the lake's pings table takes as they are: the key, the arrival,
# and the ping's fields with a lake column (model/ping.py); the JSON columns travel
# apart, as text (metrics is unpacked, dropped kept as its text).
_STORE_COLUMNS = (
    "document_id", "project", "client_id", "ping_type", "received_at",
    *(f.column for f in in_lake() if f.column_type != COLUMN_JSON and f.column in pings.c),
)
_TIMES = ("received_at", "period_start", "period_end")


@dataclass
class SealReport:
    days: list[date] = field(default_factory=list)  # newly sealed
    late: dict[date, int] = field(default_factory=dict)  # late pings added to sealed days
    rows: dict[str, int] = field(default_factory=dict)  # rows written, by table
    bytes: int = 0
    cleaned: list[str] = field(default_factory=list)  # leftovers of an interrupted run


def sealable_through(now: datetime, grace: timedelta) -> date:
    """The last UTC day that has ended, grace included, at `now`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    return (now.astimezone(timezone.utc) - grace).date() - timedelta(days=1)


def seal(engine: Engine, lake: Lake, *, now: datetime, grace: timedelta = timedelta(hours=2),
         through: date | None = None, since: date | None = None) -> SealReport:
    """Seal every day that ended at least `grace` before `now` (and no later than
    `through`) and that the store holds pings of; add the late pings of sealed days.

    Sealing again is a no-op.

    since: every ended day from this one on is sealed, with empty files when the store
    holds no ping of it (a quiet day, an outage): a period is released once all its
    days are sealed, so a day without pings must not hold back its week and month,
    and whether a day is released must not depend on whether anyone sent a ping.
    """
    last = sealable_through(now, grace)
    if through is not None:
        last = min(last, through)
    report = SealReport()
    with lake.lock():
        report.cleaned = lake.clean()
        sealed = set(lake.manifest()["days"])
        days = set(_store_days(engine, last))
        if since is not None:
            days |= {since + timedelta(days=i) for i in range((last - since).days + 1)
                     if (since + timedelta(days=i)).isoformat() not in sealed}
        for day in sorted(days):
            key = day.isoformat()
            if key not in sealed:
                entries = _write_day(engine, lake, day,
                                     skip=_resent(engine, lake, day, sealed), late=False)
                report.days.append(day)
            else:
                held = _lake_documents(lake, key)
                if not _has_late(engine, day, held):  # the usual case: ids only, no JSON read
                    continue
                entries = _write_day(engine, lake, day,
                                     skip=held | _resent(engine, lake, day, sealed), late=True)
                if not entries:
                    continue
                report.late[day] = entries[0].rows
                log.warning("lake: %d late ping(s) of sealed day %s sealed as an extra file",
                            entries[0].rows, key)
            for entry in entries:
                report.rows[entry.table] = report.rows.get(entry.table, 0) + entry.rows
                report.bytes += entry.bytes
    return report


def closed_store_days(engine: Engine, *, now: datetime,
                      grace: timedelta = timedelta(hours=2)) -> list[date]:
    """The hot store's days that have ended (grace included) at `now`: what a seal then
    writes, or holds already (late pings aside)."""
    return _store_days(engine, sealable_through(now, grace))


def _store_days(engine: Engine, last: date) -> list[date]:
    with engine.connect() as connection:
        days = connection.execute(select(pings.c.day).distinct().where(
            pings.c.day <= last, pings.c.ping_type.not_in(NOT_SEALED)).order_by(pings.c.day)).scalars()
        return [d if isinstance(d, date) else date.fromisoformat(d) for d in days]


def _has_late(engine: Engine, day: date, held: frozenset[str]) -> bool:
    query = select(pings.c.document_id).where(pings.c.day == day, pings.c.ping_type.not_in(NOT_SEALED))
    with engine.connect() as connection, connection.execution_options(
            stream_results=True, yield_per=CHUNK_ROWS).execute(query) as result:
        return any(document not in held for document in result.scalars())


def _lake_documents(lake: Lake, day: str) -> frozenset[str]:
    """The document ids a sealed day holds, from files checked against the manifest
    first: a damaged file would make the day's pings look late, and sealed again."""
    problems = lake.verify([day])
    if problems:
        raise LakeError(f"{problems[0]}: `sempervirens lake verify` lists every damaged file; "
                        f"restore them from a backup before sealing")
    held = set()
    for path in lake.files("pings", [day]):
        held.update(_read(lake, path, ["document_id"]).column(0).to_pylist())
    return frozenset(held)


def _resent(engine: Engine, lake: Lake, day: date, sealed: set[str]) -> frozenset[str]:
    """The day's pings that an earlier sealed day already holds.  A client that missed
    the answer to an upload sends the same document again, up to RESEND_DAYS later; the
    hot store, which keeps only a margin of sealed days, no longer knows it.  Only pings
    made before the day (by their period's end, or without one) can be such resends."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    query = select(pings.c.document_id).where(
        pings.c.day == day, pings.c.ping_type.not_in(NOT_SEALED),
        or_(pings.c.period_end.is_(None), pings.c.period_end < midnight))
    with engine.connect() as connection:
        candidates = connection.execute(query).scalars().all()
    since = day - timedelta(days=RESEND_DAYS)
    earlier = [d for d in sealed if since <= date.fromisoformat(d) < day]
    if not candidates or not earlier:
        return frozenset()
    wanted, found = pa.array(candidates, pa.string()), set()
    for path in lake.files("pings", earlier):
        column = _read(lake, path, ["document_id"]).column(0)
        found.update(pc.filter(column, pc.is_in(column, wanted)).to_pylist())
    if found:
        log.info("lake: %d ping(s) of %s sent again, already sealed on an earlier day: left out",
                 len(found), day)
    return frozenset(found)


def _read(lake: Lake, uri: str, columns: list[str] | None = None) -> pa.Table:
    path = uri if lake.local else uri.split("://", 1)[-1]
    try:
        return pq.read_table(path, columns=columns, filesystem=lake.fs)
    except (pa.ArrowException, OSError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise LakeError(f"{uri}: cannot be read ({reason}); `sempervirens lake verify` "
                        f"lists what differs from the manifest") from None


def _write_day(engine: Engine, lake: Lake, day: date, *, skip: frozenset[str],
               late: bool) -> list[FileEntry]:
    key = day.isoformat()
    writers = {name: _TableWriter(lake, name, key) for name in ("pings", "counters", "timings")}
    unpacker = _Unpacker()
    try:
        for chunk in _chunks(engine, day, skip):
            for name, table in unpacker.unpack(chunk).items():
                writers[name].write(table)
            checkpoint("chunk-written")
    finally:
        unpacker.close()
    if late and writers["pings"].rows == 0:
        for writer in writers.values():
            writer.abandon()
        return []
    for writer in writers.values():
        writer.close()
    checkpoint("files-written")
    entries = []
    for writer in writers.values():
        if late and writer.rows == 0:
            writer.abandon()
            continue
        entries.append(writer.publish())
        checkpoint("file-published")
    manifest = lake.manifest()
    sealed = manifest["days"].setdefault(key, {"sealed_at": now_text(), "files": [], "late": [],
                                               "rewrites": []})
    sealed["files"].extend(entry.as_json() for entry in entries)
    if late:
        sealed["late"].append({"at": now_text(), "pings": entries[0].rows})
    lake.write_manifest(manifest)
    return entries


def _chunks(engine: Engine, day: date, skip: frozenset[str]):
    """The day's pings in project order, CHUNK_ROWS at a time, as Arrow tables."""
    # SQLite holds times as text in UTC: Arrow parses them, faster than a datetime each.
    as_text = engine.dialect.name == "sqlite"
    columns = [type_coerce(pings.c[name], Text).label(name) if as_text and name in _TIMES
               else pings.c[name] for name in _STORE_COLUMNS]
    # JSON travels as text: no Python object per metric; DuckDB parses it.
    columns += [cast(pings.c.metrics, Text).label("metrics"), cast(pings.c.dropped, Text).label("dropped")]
    query = (select(*columns).where(pings.c.day == day, pings.c.ping_type.not_in(NOT_SEALED))
             .order_by(pings.c.project, pings.c.document_id))
    names = [*_STORE_COLUMNS, "metrics", "dropped"]
    schema = arrow_schema("pings")
    types = {name: schema.field(name).type for name in schema.names}
    types["metrics"] = types["dropped"] = pa.string()
    with engine.connect() as connection, connection.execution_options(
            stream_results=True, yield_per=CHUNK_ROWS).execute(query) as result:
        for rows in result.partitions(CHUNK_ROWS):
            if skip:
                rows = [row for row in rows if row[0] not in skip]
                if not rows:
                    continue
            values = list(zip(*rows))
            arrays = [_array(values[i], types[name], name) for i, name in enumerate(names)]
            yield pa.Table.from_arrays(arrays, names=names)


def _array(values, kind: pa.DataType, name: str) -> pa.Array:
    if name in _TIMES:
        if isinstance(next((v for v in values if v is not None), None), str):
            try:  # 'YYYY-MM-DD HH:MM:SS.ffffff', naive UTC
                return pa.array(values, pa.string()).cast(pa.timestamp("us")).cast(kind)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
        values = [_utc(v) for v in values]
    return pa.array(values, type=kind)


def _utc(value):
    if value is None or isinstance(value, datetime) and value.tzinfo is not None:
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc)  # SQLite holds naive UTC times


class _Unpacker:
    """DuckDB, in-process, turning a chunk's JSON metrics into the long tables."""

    def __init__(self) -> None:
        # A chunk fits in memory; never spilled to DuckDB's default ./.tmp, wherever the
        # process runs (installation ids outside the stores and the lake).
        self.db = duckdb.connect(":memory:", config={"threads": 2, "temp_directory": ""})

    def close(self) -> None:
        self.db.close()

    def unpack(self, chunk: pa.Table) -> dict[str, pa.Table]:
        chunk = chunk.append_column("_i", pa.array(range(chunk.num_rows), pa.int64()))
        self.db.register("chunk", chunk)
        try:
            self.db.execute(_PARSE)
            return {name: self._query(sql, name) for name, sql in _QUERIES.items()}
        finally:
            self.db.unregister("chunk")

    def _query(self, sql: str, name: str) -> pa.Table:
        table = self.db.sql(sql).to_arrow_table()
        return table.cast(arrow_schema(name))


_KEY_SQL = "document_id, project, client_id, ping_type"
# Each ping's JSON is parsed once, into the shape the protocol validated.
_METRICS_TYPE = ('{"counters": "MAP(VARCHAR, BIGINT)", '
                 '"labeled_counters": "MAP(VARCHAR, MAP(VARCHAR, BIGINT))", '
                 '"timings": "MAP(VARCHAR, STRUCT(buckets MAP(VARCHAR, BIGINT)))", '
                 '"memory": {"peak_rss_bytes": "BIGINT"}}')
_PARSE = f"""CREATE OR REPLACE TEMP TABLE parsed AS
    SELECT * EXCLUDE (metrics), json_transform(metrics, '{_METRICS_TYPE}') AS m FROM chunk"""
_PING_SQL = ", ".join("m.memory.peak_rss_bytes AS peak_rss_bytes" if name == "peak_rss_bytes" else name
                      for name in arrow_schema("pings").names)
_QUERIES = {
    "pings": f"SELECT {_PING_SQL} FROM parsed ORDER BY _i",
    "counters": f"""
        SELECT {_KEY_SQL}, metric, label, value FROM (
            SELECT _i, {_KEY_SQL}, e.key AS metric, '' AS label, e.value AS value
            FROM (SELECT *, unnest(map_entries(m.counters)) AS e FROM parsed
                  WHERE m.counters IS NOT NULL)
            UNION ALL
            SELECT _i, {_KEY_SQL}, metric, l.key AS label, l.value AS value
            FROM (SELECT *, c.key AS metric, unnest(map_entries(c.value)) AS l
                  FROM (SELECT *, unnest(map_entries(m.labeled_counters)) AS c FROM parsed
                        WHERE m.labeled_counters IS NOT NULL))
        ) ORDER BY _i, metric, label""",
    "timings": f"""
        SELECT {_KEY_SQL}, metric, bucket, count FROM (
            SELECT _i, {_KEY_SQL}, metric, CAST(b.key AS INTEGER) AS bucket, b.value AS count
            FROM (SELECT *, t.key AS metric, unnest(map_entries(t.value.buckets)) AS b
                  FROM (SELECT *, unnest(map_entries(m.timings)) AS t FROM parsed
                        WHERE m.timings IS NOT NULL))
        ) WHERE count > 0 ORDER BY _i, metric, bucket""",
}


class _TableWriter:
    """One table's file of one day: written under a temporary name, then published."""

    def __init__(self, lake: Lake, table: str, day: str) -> None:
        self.lake, self.table, self.rows = lake, table, 0
        self.final = lake.new_file_name(table, day)
        self.temporary = lake.temporary(self.final)
        self._stream = lake.fs.open_output_stream(lake.path(self.temporary))
        self._writer = pq.ParquetWriter(self._stream, arrow_schema(table), compression="zstd")

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(table)
            self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()
        self._stream.close()

    def abandon(self) -> None:
        if self._stream is not None and not self._stream.closed:
            self.close()
        self.lake.delete(self.temporary)

    def publish(self) -> FileEntry:
        size, digest = self.lake.digest(self.temporary)
        self.lake.publish(self.temporary, self.final)
        return FileEntry(self.table, self.final, self.rows, size, digest)


# -- pruning the hot store --------------------------------------------------------

@dataclass
class PruneReport:
    days: list[date] = field(default_factory=list)
    deleted: int = 0
    kept_unsealed: int = 0  # pings of pruned days that the lake does not hold yet


def prune(engine: Engine, lake: Lake, *, now: datetime, margin_days: int) -> PruneReport:
    """Delete from the hot store the pings of sealed days older than the margin
    (days before now's UTC day minus margin_days), in batches, and only those whose
    document the lake holds: a late ping not sealed yet, or a deletion request
    (never sealed), stays."""
    if margin_days < 0:
        raise ValueError("margin_days must be 0 or more")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    oldest_kept = now.astimezone(timezone.utc).date() - timedelta(days=margin_days)
    report = PruneReport()
    with lake.lock():
        every = set(lake.manifest()["days"])
        sealed = {day for day in lake.days() if day < oldest_kept}
        for day in _store_days(engine, oldest_kept - timedelta(days=1)):
            if day not in sealed:
                continue
            # A document sent again, that an earlier sealed day holds, was left out of
            # this day by the seal: the lake holds it, so it goes too (else it would
            # stay in the store for ever, and every seal and prune re-read its day).
            held = _lake_documents(lake, day.isoformat()) | _resent(engine, lake, day, every)
            with engine.connect() as connection:
                stored = connection.execute(select(pings.c.document_id).where(
                    pings.c.day == day, pings.c.ping_type.not_in(NOT_SEALED))).scalars().all()
            doomed = [d for d in stored if d in held]
            report.kept_unsealed += len(stored) - len(doomed)
            for batch in range(0, len(doomed), DELETE_BATCH):
                with engine.begin() as connection:  # one commit per batch
                    for start in range(batch, min(batch + DELETE_BATCH, len(doomed)), DELETE_CHUNK):
                        report.deleted += connection.execute(delete(pings).where(
                            pings.c.document_id.in_(doomed[start:start + DELETE_CHUNK]))).rowcount
            report.days.append(day)
    return report
