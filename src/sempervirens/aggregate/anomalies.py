"""Anomalies: one source reporting at least N distinct clients for a project in a day.

The policy's example is a project "reporting many (100,000 or more) distinct users
all from a single IP address": a CI farm, a NAT, or someone inflating numbers.  A
source is an IPv4 address or an IPv6 /64 (model/sources.py).
Detection is one GROUP BY in the private store; what is kept and shown is a keyed
hash (HMAC-SHA256) of the source, so the list survives the retention purge and
admins can match a source they are told about without the store showing one.
The source itself is kept beside it only until the purge (to leave its rows out of
the private aggregates).  Public numbers count its pings: whether a source is crowded
depends on other installations, so leaving them out would let one installation decide
whether N - 1 others are counted (docs/privacy.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as secrets_module
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select, text

from . import tables
from ._sql import as_date, dialect_of


def hash_key(private_engine, configured: str | None) -> bytes:
    """The configured key, else a random one made once and kept in the private store."""
    if configured:
        return configured.encode()
    with private_engine.begin() as connection:
        # Two processes may make one at once (the cycle in `serve`, a command): the first
        # insert wins and both read it.
        connection.execute(text(
            "INSERT INTO aggregate_secrets (name, value) VALUES ('ip_hash_key', :value) "
            "ON CONFLICT (name) DO NOTHING"), {"value": secrets_module.token_hex(32)})
        stored = connection.execute(select(tables.secrets.c.value).where(
            tables.secrets.c.name == "ip_hash_key")).scalar_one()
    return bytes.fromhex(stored)


def ip_hash(key: bytes, ip: str) -> str:
    return hmac.new(key, ip.encode(), hashlib.sha256).hexdigest()


def source_sql(log: str) -> str:
    """The source of an access-log row (alias `log`): model.sources.source of its address."""
    return f"coalesce({log}.network, {log}.ip)"


def _find(connection, days: list[date], min_clients: int) -> Iterator:
    """(project, day, ip, clients, pings) per crowded source, days in [min, max]; `ip` is
    the source: an IPv4 address or an IPv6 /64 ("2001:db8:1:2::/64")."""
    d = dialect_of(connection)
    day = d.utc_day("received_at")
    return connection.execute(text(f"""
        SELECT project, {day} AS day, {source_sql('a')} AS ip,
               count(DISTINCT client_id) AS clients, count(*) AS pings
        FROM access_log AS a
        WHERE received_at >= :lo AND received_at < :hi AND client_id IS NOT NULL
        GROUP BY project, {day}, {source_sql('a')}
        HAVING count(DISTINCT client_id) >= :n"""),
        {"lo": d.timestamp(min(days)), "hi": d.timestamp(max(days) + timedelta(days=1)),
         "n": min_clients})


def detect_anomalies(stores, days: list[date], settings) -> tuple[int, int]:
    """Record the anomalies of these days: (anomalies, their pings)."""
    key = hash_key(stores.private, settings["ip_hash_key"])
    wanted = set(days)
    now = datetime.now(timezone.utc)
    with stores.private.begin() as connection:
        found = [row for row in _find(connection, days, settings["anomaly_min_clients"])
                 if as_date(row.day) in wanted]
        connection.execute(tables.anomalies.delete().where(tables.anomalies.c.day.in_(days)))
        if found:
            connection.execute(tables.anomalies.insert(), [
                {"project": r.project, "day": as_date(r.day),
                 "ip_hash": ip_hash(key, r.ip), "ip": r.ip, "clients": r.clients,
                 "pings": r.pings, "detected_at": now} for r in found])
    return len(found), sum(r.pings for r in found)


def list_anomalies(stores, min_clients: int, configured_key: str | None = None) -> list[dict]:
    """For admins: stored anomalies and those the access log shows now at this threshold.

    Hashes only: the list never holds an address.
    """
    key = hash_key(stores.private, configured_key)
    found: dict[tuple, dict] = {}

    def add(project, day, hashed, clients, pings) -> None:
        day = as_date(day).isoformat()
        found[project, day, hashed] = {"project": project, "day": day, "ip_hash": hashed,
                                       "clients": clients, "pings": pings}

    with stores.private.connect() as connection:
        for r in connection.execute(select(tables.anomalies).where(
                tables.anomalies.c.clients >= min_clients)):
            add(r.project, r.day, r.ip_hash, r.clients, r.pings)
        first, last = connection.execute(text(
            "SELECT min(received_at), max(received_at) FROM access_log")).one()
        if first is not None:
            for r in _find(connection, [as_date(first), as_date(last)], min_clients):
                add(r.project, r.day, ip_hash(key, r.ip), r.clients, r.pings)
    return sorted(found.values(), key=lambda a: (a["day"], a["project"], -a["clients"]))
