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

from sqlalchemy import Connection, Engine, select, text

from ..aggregate.tables import secrets
from .tables import tombstones

REFRESH_SECONDS = 1.0


def client_hash(key: bytes, client_id: str) -> str:
    return hmac.new(key, client_id.lower().encode(), hashlib.sha256).hexdigest()


def is_tombstoned(connection: Connection, key: bytes, client_id: str) -> bool:
    wanted = client_hash(key, client_id)
    return connection.execute(select(tombstones.c.id).where(tombstones.c.hash == wanted)).first() is not None


# The servers' key, as a keyed hash of a fixed text (the key itself is never stored):
# a deletion made under another key writes tombstones no server matches, and the deleted
# client's pings would be let in again, without a word.
_KEY_CHECK = "tombstone_key_check"


class WrongKey(Exception):
    """The secret key here is not the one the servers use; str() says what to do."""


def _key_check(key: bytes) -> str:
    return hmac.new(key, b"sempervirens: the key of the tombstones", hashlib.sha256).hexdigest()


def _stored_check(connection: Connection) -> str | None:
    return connection.execute(select(secrets.c.value).where(secrets.c.name == _KEY_CHECK)).scalar()


def _record(connection: Connection, key: bytes, *, replace: bool) -> None:
    # Two processes may record at once (workers, a command): one statement, either way.
    connection.execute(text(
        f"INSERT INTO {secrets.name} (name, value) VALUES (:name, :value) ON CONFLICT (name) "
        + ("DO UPDATE SET value = excluded.value" if replace else "DO NOTHING")),
        {"name": _KEY_CHECK, "value": _key_check(key)})


def servers_key(engine: Engine, key: bytes) -> bool:
    """Record this key as the servers' (serve and init do, at start); whether it replaced
    another one (a key set anew on every host; or one host that differs)."""
    with engine.begin() as connection:
        stored = _stored_check(connection)
        if stored != _key_check(key):
            _record(connection, key, replace=True)
        return stored not in (None, _key_check(key))


def require_servers_key(engine: Engine, key: bytes) -> None:
    """WrongKey unless this is the key the servers last started with (a deployment that
    recorded none yet takes this one)."""
    with engine.begin() as connection:
        _record(connection, key, replace=False)
        if _stored_check(connection) != _key_check(key):
            raise WrongKey("the secret key here is not the one the servers use (their "
                           "tombstones would not match it, and the client's pings would be let "
                           "in again): set secret_key, or --data-dir, as `serve` has them; "
                           "nothing deleted")


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
