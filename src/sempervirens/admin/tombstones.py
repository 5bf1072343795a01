"""Tombstones: keyed hashes of deleted client_ids, and the ingestion check.

Ingestion asks `forgotten(app, client_id)` for every ping that carries a client_id;
a ping of a deleted client is answered 202 (so the client stops resending) and
dropped before anything is written.  Each server process keeps the set of hashes
in memory and reads new ones at most every REFRESH_SECONDS; deletion waits
longer than that before it deletes rows (see deletion.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time

from sqlalchemy import Connection, Engine, select

from .tables import tombstones

REFRESH_SECONDS = 1.0


def client_hash(key: bytes, client_id: str) -> str:
    return hmac.new(key, client_id.lower().encode(), hashlib.sha256).hexdigest()


def is_tombstoned(connection: Connection, key: bytes, client_id: str) -> bool:
    wanted = client_hash(key, client_id)
    return connection.execute(select(tombstones.c.id).where(tombstones.c.hash == wanted)).first() is not None


def serialise_inserts(connection: Connection) -> None:
    """Call first in a transaction that inserts tombstones.

    Servers read the tombstones incrementally (id > the last id read).  PostgreSQL hands
    out ids when a row is inserted, not when it commits: of two deletions at once, the
    later id may commit first, a server read it, and the earlier id, committed a moment
    later, is below what that server reads from -- never seen, and the deleted client's
    pings accepted again.  One inserter at a time (readers are not blocked) makes ids
    commit in their order.  SQLite has one writer at a time anyway.
    """
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("LOCK TABLE tombstones IN SHARE ROW EXCLUSIVE MODE")


class ForgottenClients:
    """The tombstone hashes, read incrementally (tombstones are never removed)."""

    def __init__(self, engine: Engine, key: bytes) -> None:
        self._engine = engine
        self._key = key
        self._hashes: set[str] = set()
        self._last_id = 0
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()

    def known(self, client_id: str) -> bool | None:
        """The answer from memory; None when the hashes are due to be read again."""
        if time.monotonic() - self._read_at > REFRESH_SECONDS:
            return None
        return bool(self._hashes) and client_hash(self._key, client_id) in self._hashes

    async def contains(self, client_id: str) -> bool:
        if time.monotonic() - self._read_at > REFRESH_SECONDS:
            async with self._lock:
                if time.monotonic() - self._read_at > REFRESH_SECONDS:
                    await asyncio.to_thread(self._read_new)
                    self._read_at = time.monotonic()
        return bool(self._hashes) and client_hash(self._key, client_id) in self._hashes

    def _read_new(self) -> None:
        query = select(tombstones.c.id, tombstones.c.hash).where(
            tombstones.c.id > self._last_id).order_by(tombstones.c.id)
        with self._engine.connect() as connection:
            for row_id, value in connection.execute(query):
                self._hashes.add(value)
                self._last_id = row_id


def forgotten_now(app, client_id: str) -> bool | None:
    """`forgotten` without a store read: None when one is due (or the set not yet read)."""
    cache = getattr(app.state, "forgotten_clients", None)
    return None if cache is None else cache.known(client_id)


async def forgotten(app, client_id: str) -> bool:
    """True when this client asked to be deleted: drop its ping."""
    cache = getattr(app.state, "forgotten_clients", None)
    if cache is None:
        from ._secret import load_key

        cache = app.state.forgotten_clients = ForgottenClients(
            app.state.stores.private, load_key(app.state.settings))
    return await cache.contains(client_id)
