"""Deletions that a restored backup does not know of, carried out again.

A backup holds the tombstones of its day.  Deletion requests handled after it are
recorded only in the tombstones of the store it replaces: `saved_tombstones` reads
them before the restore, `reapply` writes back the ones the backup lacks and deletes
again every client of the restored stores and lake whose keyed hash is among the
tombstones (the hash cannot be reversed: the client_ids that the restored data
holds are hashed and compared).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, inspect, select

from ..store import Stores
from ..store.schema import access_log, pings
from .deletion import delete_clients
from .tables import tombstones
from .tombstones import client_hash, serialise_inserts


@dataclass(frozen=True)
class SavedTombstones:
    rows: tuple[tuple[str, str], ...]  # (hash, month)
    key: bytes | None  # the key they were made with


def saved_tombstones(engine: Engine, key: bytes | None) -> SavedTombstones:
    """The tombstones of a private store about to be replaced (none if it has none)."""
    with engine.connect() as connection:
        if tombstones.name not in inspect(connection).get_table_names():
            return SavedTombstones((), key)
        rows = connection.execute(select(tombstones.c.hash, tombstones.c.month)).all()
    return SavedTombstones(tuple((h, m) for h, m in rows), key)


def has_tombstones(stores: Stores) -> bool:
    with stores.private.connect() as connection:
        return connection.execute(select(tombstones.c.id).limit(1)).first() is not None


def reapply(stores: Stores, key: bytes, saved: SavedTombstones, *, lake: str | None) -> tuple[int, int]:
    """Write back the saved tombstones the restored store lacks, then delete again every
    client of the restored data that has a tombstone (the saved ones, and the backup's
    own: a deletion under way while the backup ran left its tombstone in the private
    store, copied after the telemetry store); returns (tombstones added, clients deleted)."""
    with stores.private.connect() as connection:
        present = set(connection.execute(select(tombstones.c.hash)).scalars())
    missing = [(h, m) for h, m in dict(saved.rows).items() if h not in present]
    if missing:
        with stores.private.begin() as connection:
            serialise_inserts(connection)
            connection.execute(tombstones.insert(), [{"hash": h, "month": m} for h, m in missing])
    saved_hashes = {h for h, _ in missing}
    present |= saved_hashes
    if not present:
        return 0, 0
    found = []
    for client_id in _client_ids(stores, lake):
        if client_hash(key, client_id) in present or (
                saved.key and saved.key != key and client_hash(saved.key, client_id) in saved_hashes):
            found.append(client_id)
    if found:
        # No server runs during a restore: no ping is on its way, no need to wait.
        delete_clients(stores, key, found, lake=lake, settle=0)
    return len(missing), len(found)


def _client_ids(stores: Stores, lake: str | None) -> set[str]:
    ids = set()
    with stores.telemetry.connect() as connection:
        ids.update(connection.execute(select(pings.c.client_id).distinct()
                                      .where(pings.c.client_id.is_not(None))).scalars())
    with stores.private.connect() as connection:
        ids.update(connection.execute(select(access_log.c.client_id).distinct()
                                      .where(access_log.c.client_id.is_not(None))).scalars())
    if lake is not None:
        ids.update(_lake_client_ids(lake))
    return ids


def _lake_client_ids(location: str) -> set[str]:
    import pyarrow.parquet as pq

    from ..store.lake import Lake

    lake = Lake(location)
    ids = set()
    for sealed in lake.manifest()["days"].values():
        for f in sealed["files"]:
            column = pq.read_table(lake.path(f["path"]), columns=["client_id"],
                                   filesystem=lake.fs)["client_id"]
            ids.update(value for value in column.unique().to_pylist() if value)
    return ids
