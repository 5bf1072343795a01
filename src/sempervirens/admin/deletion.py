"""Deleting everything stored about a client_id, beyond recovery from the files.

Order matters:
1. a tombstone (keyed hash) first, so servers start dropping the client's pings;
2. a pause longer than the servers' tombstone refresh, so that a ping of the client
   accepted before the tombstone was read is mostly in the store already (one that a
   slow writer commits later is deleted before its day is sealed: forget_stragglers);
3. the rows: pings, access_log and every other table with a client_id column, and
   the enrichment results of addresses that no remaining log line uses; the private
   days they touched are marked for re-aggregation (the private institution counts no
   longer include the client), and every lake partition holding the client is
   rewritten without it; the client's deletion-request pings go last, so that a step
   that failed (the lake on object storage out of reach) is carried out again by the
   next cycle.  Released public statistics are not re-released: they are
   differentially private, not personal data, and a new release of a period would
   spend budget and differ from the old by this client (docs/privacy.md);
4. the files: SQLite already overwrites deleted bytes (secure_delete=ON); the WAL
   still holds old page images, so it is checkpointed and truncated, then the
   files are searched for the UUIDs and VACUUMed if any remains.  PostgreSQL
   tables are VACUUMed (see docs/privacy.md for what that does and does not erase).
"""

from __future__ import annotations

import logging
import mmap
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, Table, column, delete, exc, func, inspect, select
from sqlalchemy import table as table_clause

from ..aggregate import tables as aggregate_tables
from ..aggregate.state import mark_dirty
from ..store import Stores
from ..store.schema import access_log, pings, private, telemetry
from .tables import tombstones
from .tombstones import (REFRESH_SECONDS, WrongKey, client_hash, require_servers_key,
                         serialise_inserts)

log = logging.getLogger("sempervirens.admin")
SETTLE_SECONDS = 2 * REFRESH_SECONDS + 0.5
_CHUNK = 500  # ids per IN (...) list: well under every database's parameter limit


class DeletionIncomplete(Exception):
    """A deleted UUID could still be read from a database file."""


@dataclass
class DeletionReport:
    clients: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    compaction: list[str] = field(default_factory=list)


def canonical_client_id(value: str) -> str:
    try:
        return str(uuid.UUID(value.strip()))
    except (ValueError, AttributeError):
        raise ValueError(f"not a UUID: {value!r}") from None


def delete_clients(stores: Stores, key: bytes, client_ids, *, lake: str | None = None,
                   settle: float = SETTLE_SECONDS) -> DeletionReport:
    """Delete everything about these clients: stores, then the lake at `lake` (a location)."""
    ids = sorted({canonical_client_id(c) for c in client_ids})
    report = DeletionReport(clients=len(ids))
    if not ids:
        return report
    _bury(stores.private, key, ids)
    time.sleep(settle)
    _delete_private(stores.private, ids, report)
    _delete_telemetry(stores.telemetry, ids, report)
    if lake is not None:
        from ..store.lake import Lake, delete_clients as delete_from_lake

        rewritten = delete_from_lake(Lake(lake), ids)
        for table, count in rewritten.rows.items():
            _count(report, f"lake {table}", count)
    # The requests go last: if a step above failed, they are still there, and the next
    # cycle carries them out again (every step is idempotent).
    with stores.telemetry.begin() as connection:
        _count(report, pings.name, _delete_in(connection, pings, pings.c.client_id, ids,
                                              pings.c.ping_type == "deletion-request"))
    for name, engine in (("telemetry", stores.telemetry), ("private", stores.private)):
        report.compaction.append(f"{name}: {_compact(engine, ids, report.rows)}")
    return report


def process_deletion_requests(stores: Stores, key: bytes, *, lake: str | None = None,
                              settle: float = SETTLE_SECONDS) -> DeletionReport:
    """Carry out every deletion-request ping received (each aggregation cycle does)."""
    with stores.telemetry.connect() as connection:
        ids = connection.execute(select(pings.c.client_id).distinct().where(
            pings.c.ping_type == "deletion-request", pings.c.client_id.is_not(None))).scalars().all()
    return delete_clients(stores, key, ids, lake=lake, settle=settle)


def process_pending(stores: Stores, settings: dict) -> int:
    """The cycle's deletion step: carry out the deletion requests received; how many."""
    from ._secret import load_key

    with stores.telemetry.connect() as connection:
        if connection.execute(select(pings.c.document_id).where(pings.c.ping_type == "deletion-request")
                              .limit(1)).first() is None:
            return 0
    key = load_key(settings, create=False)
    if key is None:
        # Deleting without a tombstone would let the client's next ping back in: wait.
        log.error("deletion requests wait: no secret key here (set secret_key, see docs/operations.md)")
        return 0
    try:
        report = process_deletion_requests(stores, key, lake=settings["lake"])
    except WrongKey as error:
        log.error("deletion requests wait: %s", error)
        return 0
    if report.clients:
        log.info("deleted %d client(s) on request", report.clients)
    return report.clients


def forget_stragglers(stores: Stores, settings: dict, days) -> int:
    """Delete the clients whose pings on these days (of the hot store, about to be
    sealed) are tombstoned; how many.  A ping accepted just before the servers read a
    new tombstone is committed by its writer within twice store_timeout (a batch in
    flight before it, then its own), which can be after the deletion's pause and rows:
    it stayed in the hot store, and the seal put it in the lake, the UUID with it.  The
    cycle calls this before each seal."""
    from ._secret import load_key

    days = sorted(days)
    with stores.private.connect() as connection:
        buried = set(connection.execute(select(tombstones.c.hash)).scalars())
    if not days or not buried:
        return 0
    key = load_key(settings, create=False)
    if key is None:
        return 0
    with stores.telemetry.connect() as connection:
        ids = connection.execute(select(pings.c.client_id).distinct().where(
            pings.c.day.in_(days), pings.c.client_id.is_not(None))).scalars().all()
    found = sorted(c for c in ids if client_hash(key, c) in buried)
    if found:
        # Buried long enough ago that every server drops their pings: no pause.
        delete_clients(stores, key, found, lake=settings["lake"], settle=0)
        log.warning("deleted %d client(s) again: pings of theirs committed after their "
                    "deletion", len(found))
    return len(found)


def _bury(engine: Engine, key: bytes, ids: list[str]) -> None:
    require_servers_key(engine, key)  # WrongKey before any tombstone or row goes
    month = datetime.now(timezone.utc).strftime("%Y-%m")
    for client_id in ids:
        hashed = client_hash(key, client_id)
        try:
            with engine.begin() as connection:
                serialise_inserts(connection)
                if connection.execute(select(tombstones.c.id).where(tombstones.c.hash == hashed)).first():
                    continue
                connection.execute(tombstones.insert().values(hash=hashed, month=month))
        except exc.IntegrityError:  # buried meanwhile by a concurrent deletion
            pass


def _delete_private(engine: Engine, ids: list[str], report: DeletionReport) -> None:
    origins, private_days = aggregate_tables.ip_origins, aggregate_tables.private_aggregated_days
    with engine.begin() as connection:
        ips, days = set(), set()
        for chunk in _chunks(ids):
            for ip, received_at in connection.execute(
                    select(access_log.c.ip, access_log.c.received_at).where(access_log.c.client_id.in_(chunk))):
                ips.add(ip)
                days.add(received_at.date())
        _delete_by_client(connection, engine, private, ids, report)
        # Enrichment results of an address only this client used are about it too.
        still_used = set()
        for chunk in _chunks(sorted(ips)):
            still_used.update(connection.execute(
                select(access_log.c.ip).distinct().where(access_log.c.ip.in_(chunk))).scalars())
        _count(report, origins.name, _delete_in(connection, origins, origins.c.ip, sorted(ips - still_used)))
        mark_dirty(connection, private_days, sorted(days))  # the next cycle redoes these days


def _delete_telemetry(engine: Engine, ids: list[str], report: DeletionReport) -> None:
    with engine.begin() as connection:
        _delete_by_client(connection, engine, telemetry, ids, report)


def _delete_by_client(connection, engine: Engine, metadata, ids: list[str], report: DeletionReport) -> None:
    """Every table of this store with a client_id column, the aggregation's included; of
    the pings, all but the deletion requests (removed once everything else is done)."""
    existing = set(inspect(connection).get_table_names())
    for table in metadata.sorted_tables:
        if table.name in existing and "client_id" in table.c:
            kept = [table.c.ping_type != "deletion-request"] if table is pings else []
            _count(report, table.name, _delete_in(connection, table, table.c.client_id, ids, *kept))


def _delete_in(connection, table: Table, column, values: list, *where) -> int:
    deleted = 0
    for chunk in _chunks(values):
        deleted += connection.execute(delete(table).where(column.in_(chunk), *where)).rowcount
    return deleted


def _compact(engine: Engine, ids: list[str], rows: dict[str, int]) -> str:
    if engine.dialect.name == "sqlite":
        return _compact_sqlite(engine, ids)
    names = [n for n, count in rows.items() if count]
    vacuumed = []  # this store's tables only: `rows` counts both stores' and the lake's
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in inspect(connection).get_table_names():
            if table in names:
                connection.exec_driver_sql(f'VACUUM "{table}"')  # names from our own MetaData
                vacuumed.append(table)
    return f"VACUUM {', '.join(vacuumed) or 'nothing'}"


def _compact_sqlite(engine: Engine, ids: list[str]) -> str:
    path = Path(engine.url.database)
    _checkpoint(engine)
    if not _holds(path, ids):
        return "WAL checkpointed and truncated"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM")
    _checkpoint(engine)
    if _holds(path, ids):
        # VACUUM rewrote every page from the live rows: what remains is live data.
        # Deletion answers for the rows about these clients (every client_id
        # column); the same UUID written by someone else inside their own data
        # (a label, a traceback from before the validator refused them) is not
        # about this client, and must not stop its deletion.
        if _rows_about(engine, ids):
            raise DeletionIncomplete(f"a deleted client_id is still in {path.name} after VACUUM")
        log.warning("a deleted client_id still appears inside other data in %s (not in any "
                    "client_id column)", path.name)
        return "WAL checkpointed and truncated, VACUUMed; the UUID remains only inside other clients' data"
    return "WAL checkpointed and truncated, VACUUMed"


def _rows_about(engine: Engine, ids: list[str]) -> int:
    """Rows of any table of this store whose client_id is one of these."""
    found = 0
    with engine.connect() as connection:
        inspector = inspect(connection)
        for name in inspector.get_table_names():
            if any(c["name"] == "client_id" for c in inspector.get_columns(name)):
                client_id = column("client_id")
                for chunk in _chunks(ids):
                    found += connection.execute(
                        select(func.count()).select_from(table_clause(name, client_id))
                        .where(client_id.in_(chunk))).scalar()
    return found


def _checkpoint(engine: Engine, timeout: float = 30.0) -> None:
    # TRUNCATE waits for readers and then empties the -wal file, old frames included.
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            busy, _, _ = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        if not busy:
            return
        if time.monotonic() > deadline:
            raise DeletionIncomplete("the WAL could not be checkpointed: a reader held it too long")
        time.sleep(0.1)


def _holds(path: Path, ids: list[str]) -> bool:
    """Whether any of these UUIDs is in the database file or its WAL, as bytes."""
    needles = [i.encode() for i in ids]
    for candidate in (path, path.with_name(path.name + "-wal")):
        if not candidate.exists() or candidate.stat().st_size == 0:
            continue
        with open(candidate, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if any(data.find(needle) >= 0 for needle in needles):
                return True
    return False


def _chunks(values: list):
    values = list(values)
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def _count(report: DeletionReport, name: str, deleted: int) -> None:
    report.rows[name] = report.rows.get(name, 0) + deleted

