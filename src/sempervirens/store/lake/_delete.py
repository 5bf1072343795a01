"""Deleting clients from the lake, and reading what it holds about them (export).

A deletion rewrites every file of every day that holds a row of the clients:
- the days are found from the `client_id` column of the `pings` files alone;
- each file of such a day (three tables, late files included) holding a row of a
  client is copied, row group by row group, without those rows, to a new file;
- in the rows that stay (other clients'), the clients' UUIDs and their pings'
  document ids written as text in a free-text column (a traceback, a label, a
  version string) are replaced by "[deleted]";
- the new files are verified before anything else changes: decoded, no
  `client_id` or `document_id` is one of the deleted clients' or of their pings,
  and no string column holds one of these UUIDs (any case); and as raw bytes, the
  file does not contain them either (what compression leaves readable: footers,
  statistics, uncompressed pages);
- the manifest is written with the new files in place of the old, recording for
  the day a count of clients and rows and the time, never a UUID; then the old
  files are removed.  A crash before the manifest leaves the old lake (the next
  lake write removes the unused new files); after it, the old files are leftovers
  that the next lake write removes: run the deletion again to be sure.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ...protocol import UUID_ANYWHERE
from ._layout import FileEntry, Lake, LakeError, checkpoint, conform, now_text
from ._seal import _TableWriter

REDACTED = "[deleted]"
_KEY_COLUMNS = ("document_id", "client_id", "project", "ping_type")


class LakeDeletionIncomplete(LakeError):
    """A deleted UUID could still be read from a rewritten file; nothing was replaced."""


@dataclass
class LakeDeletionReport:
    clients: int = 0  # distinct UUIDs asked for
    days: list[date] = field(default_factory=list)  # days rewritten
    rows: dict[str, int] = field(default_factory=dict)  # rows removed, by table
    files: int = 0  # files rewritten
    redacted: int = 0  # other clients' rows whose free text named a deleted UUID


def canonical_ids(client_ids) -> list[str]:
    ids = set()
    for value in client_ids:
        try:
            ids.add(str(uuid.UUID(str(value).strip())))
        except ValueError:
            raise ValueError(f"not a UUID: {value!r}") from None
    return sorted(ids)


def delete_clients(lake: Lake, client_ids) -> LakeDeletionReport:
    """Remove every row of these clients from the lake, verified; see the module doc."""
    ids = canonical_ids(client_ids)
    report = LakeDeletionReport(clients=len(ids))
    if not ids or not lake.exists():  # nothing sealed: nothing to rewrite, nothing to make
        return report
    wanted = pa.array(ids, pa.string())
    with lake.lock():
        lake.clean()
        manifest = lake.manifest()
        for day in sorted(manifest["days"]):
            sealed = manifest["days"][day]
            present = set()
            for f in sealed["files"]:
                if f["table"] == "pings":
                    column = _read(lake, f["path"], ["client_id"]).column(0)
                    present.update(pc.filter(column, pc.is_in(column, wanted)).to_pylist())
            if present:
                _rewrite_day(lake, day, sealed, ids, wanted, len(present), report)
        lake.clean()
    return report


def _rewrite_day(lake: Lake, day: str, sealed: dict, ids: list[str], wanted: pa.Array,
                 clients: int, report: LakeDeletionReport) -> None:
    documents: set[str] = set()  # the clients' pings: their ids go too, wherever written
    for f in sealed["files"]:
        if f["table"] == "pings":
            keys = _read(lake, f["path"], ["client_id", "document_id"])
            mine = pc.is_in(keys["client_id"], wanted)
            documents.update(pc.filter(keys["document_id"], mine).to_pylist())
    needles = frozenset(ids) | documents  # canonical: lower-case 8-4-4-4-12
    needles_array = pa.array(sorted(needles), pa.string())
    removed: dict[str, int] = {}
    replaced, written, redacted = {}, [], 0
    try:
        for f in sealed["files"]:
            source = pq.ParquetFile(lake.path(f["path"]), filesystem=lake.fs)
            column = source.read(columns=["client_id"]).column(0)
            if not pc.any(pc.is_in(column, wanted)).as_py():
                continue
            writer = _TableWriter(lake, f["table"], day)
            written.append(writer.temporary)
            for batch in source.iter_batches(batch_size=65_536):
                batch = conform(f["table"], batch)
                mine = pc.is_in(batch["client_id"], wanted)
                removed[f["table"]] = removed.get(f["table"], 0) + pc.sum(mine).as_py()
                kept, count = _redact(batch.filter(pc.invert(pc.fill_null(mine, False))), needles)
                redacted += count if f["table"] == "pings" else 0
                writer.write(kept)
            writer.close()
            _verify(lake, writer.temporary, needles_array, needles)
            checkpoint("rewrite-verified")
            written.append(writer.final)
            replaced[f["path"]] = writer.publish()
            checkpoint("rewrite-published")
    except BaseException:
        for path in written:  # temporaries and new files: the manifest names none of them
            lake.delete(path)
        raise
    manifest = lake.manifest()
    entry = manifest["days"][day]
    entry["files"] = [replaced[f["path"]].as_json() if f["path"] in replaced else f
                      for f in entry["files"]]
    entry.setdefault("rewrites", []).append(
        {"at": now_text(), "reason": "deletion", "clients": clients, "rows": removed,
         "redacted": redacted})
    lake.write_manifest(manifest)
    for old in replaced:
        lake.delete(old)
    checkpoint("rewrite-old-removed")
    report.days.append(date.fromisoformat(day))
    report.files += len(replaced)
    report.redacted += redacted
    for table, count in removed.items():
        report.rows[table] = report.rows.get(table, 0) + count


# Any UUID in text, found as a lookahead so that overlapping ones are all seen.  The
# needles (thousands, for a big deletion) are then looked up in a set: one regular
# expression of them all would be too large for Arrow's engine, and slow for Python's.
_ANY_UUID = UUID_ANYWHERE.pattern
_UUIDS_IN = re.compile(f"(?=({_ANY_UUID}))")
_UUIDS_IN_BYTES = re.compile(f"(?=({_ANY_UUID}))".encode())


def _named(text: str, needles: frozenset[str]) -> set[str]:
    """The needles written in `text`, in any case."""
    return {m.group(1).lower() for m in _UUIDS_IN.finditer(text)} & needles


def _redact(table: pa.Table, needles: frozenset[str]) -> tuple[pa.Table, int]:
    """Other clients' rows that name a deleted UUID in free text: the UUID becomes '[deleted]'."""
    touched = None
    for index, name in enumerate(table.column_names):
        if name in _KEY_COLUMNS or not pa.types.is_string(table.schema.field(name).type):
            continue
        column = table.column(name)
        if not pc.any(pc.fill_null(pc.match_substring_regex(column, _ANY_UUID), False)).as_py():
            continue  # the usual case: no UUID at all in this column
        values, hits = column.to_pylist(), []
        for row, text in enumerate(values):
            found = _named(text, needles) if text else set()
            hits.append(bool(found))
            for needle in found:
                text = re.sub(re.escape(needle), REDACTED, text, flags=re.IGNORECASE)
            values[row] = text
        if any(hits):
            hits = pa.array(hits)
            touched = hits if touched is None else pc.or_(touched, hits)
            table = table.set_column(index, name, pa.array(values, pa.string()))
    return table, 0 if touched is None else pc.sum(touched).as_py()


def _verify(lake: Lake, relative: str, needles_array: pa.Array, needles: frozenset[str]) -> None:
    """The new file, decoded and as bytes, holds none of the UUIDs."""
    source = pq.ParquetFile(lake.path(relative), filesystem=lake.fs)
    for batch in source.iter_batches(batch_size=65_536):
        for name in batch.schema.names:
            column = batch.column(name)
            if not pa.types.is_string(column.type):
                continue
            if name in ("client_id", "document_id") and pc.any(pc.is_in(column, needles_array)).as_py():
                raise LakeDeletionIncomplete(f"{relative}: a deleted id is still in column {name}")
            has_uuid = pc.fill_null(pc.match_substring_regex(column, _ANY_UUID), False)
            with_uuids = pc.filter(column, has_uuid)
            if any(_named(text, needles) for text in with_uuids.to_pylist()):
                raise LakeDeletionIncomplete(f"{relative}: a deleted UUID is still in column {name}")
    with lake.fs.open_input_stream(lake.path(relative)) as stream:
        raw = stream.read()
    if any(m.group(1).lower().decode() in needles for m in _UUIDS_IN_BYTES.finditer(raw)):
        raise LakeDeletionIncomplete(f"{relative}: a deleted UUID is still in the file's bytes")


def _read(lake: Lake, relative: str, columns: list[str] | None = None, filters=None) -> pa.Table:
    return pq.read_table(lake.path(relative), columns=columns, filters=filters, filesystem=lake.fs)


def client_rows(lake: Lake, client_ids) -> dict[str, list[dict]]:
    ids = canonical_ids(client_ids)
    rows: dict[str, list[dict]] = {"pings": [], "counters": [], "timings": []}
    if not ids:
        return rows
    manifest = lake.manifest()
    for day in sorted(manifest["days"]):
        files = manifest["days"][day]["files"]
        found = False
        for f in sorted(files, key=lambda f: f["table"] != "pings"):
            if f["table"] != "pings" and not found:
                break
            table = _read(lake, f["path"], filters=[("client_id", "in", ids)])
            found = found or table.num_rows > 0
            rows[f["table"]].extend({**row, "day": date.fromisoformat(day)} for row in table.to_pylist())
    return rows


__all__ = ["FileEntry", "LakeDeletionIncomplete", "LakeDeletionReport", "client_rows", "delete_clients"]
