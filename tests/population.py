"""Populations of pings written straight into real stores (both of them, as the writer does)."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone

from sempervirens.model.sources import ipv6_network
from sempervirens.store import schema


@dataclass
class Ping:
    project: str
    client_id: str | None
    day: date
    ip: str = field(default_factory=lambda: _another_address())
    ping_type: str = "usage"
    version: str | None = "1.0"
    os: str | None = "Linux"
    arch: str | None = "x86_64"
    python: str | None = "3.11.7"
    ci: bool | None = False
    metrics: dict | None = field(default_factory=lambda: {"counters": {"core.fit": 1}})
    crash_type: str | None = None
    hour: int = 12
    document_id: str = field(default_factory=lambda: str(uuid.uuid4()))


_addresses = itertools.count(1)


def _another_address() -> str:
    """A fresh address per ping (random ones would, now and then, put two on one address)."""
    n = next(_addresses)
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def client() -> str:
    return str(uuid.uuid4())


def insert(stores, pings: list[Ping]) -> None:
    ping_rows, log_rows = [], []
    for p in pings:
        received = datetime.combine(p.day, time(p.hour), tzinfo=timezone.utc)
        metrics = None if p.ping_type == "opt-out" else p.metrics
        ping_rows.append({
            "document_id": p.document_id, "project": p.project, "ping_type": p.ping_type,
            "client_id": p.client_id, "received_at": received, "day": p.day,
            "project_version": p.version, "os": p.os, "arch": p.arch,
            "python_implementation": "CPython", "python_version": p.python, "is_ci": p.ci,
            "metrics": metrics, "crash_type": p.crash_type})
        log_rows.append({"received_at": received, "ip": p.ip,
                         "network": ipv6_network(p.ip), "project": p.project,
                         "ping_type": p.ping_type, "client_id": p.client_id,
                         "document_id": p.document_id})
    with stores.private.begin() as connection:
        connection.execute(schema.access_log.insert(), log_rows)
    with stores.telemetry.begin() as connection:
        connection.execute(schema.pings.insert(), ping_rows)
