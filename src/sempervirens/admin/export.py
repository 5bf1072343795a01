"""Everything stored about one client_id, as JSON (the user's right of access).

Run by an operator on the server (`sempervirens admin export`), after checking
the request; there is no API for it: a client UUID is never a credential.
The export itself is a private read and goes to the audit log, without the UUID.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import inspect, select

from ..aggregate import tables as aggregate_tables
from ..store import Stores
from ..store.schema import access_log, private, telemetry
from ._rows import json_rows
from .deletion import canonical_client_id
from .tombstones import is_tombstoned


def export_client(stores: Stores, key: bytes, client_id: str, *, lake: str | None = None) -> dict:
    """Everything about the client: its rows in both stores and, given the lake's location,
    in the lake's sealed days (the pings older than the hot store's margin are only there)."""
    client_id = canonical_client_id(client_id)
    result = {"client_id": client_id, "exported_at": datetime.now(timezone.utc).isoformat(),
              "telemetry": {}, "private": {}}
    with stores.telemetry.connect() as connection:
        result["telemetry"] = _rows_by_client(connection, telemetry, client_id)
    with stores.private.connect() as connection:
        result["private"] = _rows_by_client(connection, private, client_id)
        ips = sorted({row["ip"] for row in result["private"].get(access_log.name, [])})
        for table in (aggregate_tables.ip_origins, aggregate_tables.anomalies):
            result["private"][table.name] = json_rows(
                connection.execute(select(table).where(table.c.ip.in_(ips))))
        result["deleted"] = is_tombstoned(connection, key, client_id)
    if lake is not None:
        from ..store.lake import Lake

        result["lake"] = Lake(lake).client_rows([client_id])
    return result


def _rows_by_client(connection, metadata, client_id: str) -> dict[str, list[dict]]:
    existing = set(inspect(connection).get_table_names())
    return {table.name: json_rows(connection.execute(select(table).where(table.c.client_id == client_id)))
            for table in metadata.sorted_tables if table.name in existing and "client_id" in table.c}
