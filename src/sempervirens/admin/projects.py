"""Registering projects (for servers run with --registered-projects-only) and their maintainers.

Names are normalised like package names (PEP 503), so `Scikit_Learn` and
`scikit-learn` are one project.  A project's maintainers are the holders of its
maintainer tokens: `add --maintainer` gives each one a token.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Connection, delete, select

from ..protocol import normalize_project
from ..store import Stores
from ..store.schema import projects
from . import tokens


def add(stores: Stores, name: str, maintainers: tuple[str, ...] = (),
        expires_days: float | None = None) -> tuple[str, bool, list[tuple[str, str]]]:
    """(normalised name, newly registered?, [(maintainer, token)])."""
    name = normalize_project(name)
    with stores.telemetry.begin() as connection:
        new = not _exists(connection, name)
        if new:
            connection.execute(projects.insert().values(name=name, registered_at=datetime.now(timezone.utc)))
    issued = []
    with stores.private.begin() as connection:
        for maintainer in maintainers:
            _, token = tokens.create(connection, "maintainer", project=name, holder=maintainer,
                                     expires_days=expires_days)
            issued.append((maintainer, token))
    return name, new, issued


def remove(stores: Stores, name: str) -> tuple[bool, int]:
    """(was registered?, maintainer tokens revoked).  Stored pings stay until retention."""
    name = normalize_project(name)
    with stores.telemetry.begin() as connection:
        removed = connection.execute(delete(projects).where(projects.c.name == name)).rowcount == 1
    with stores.private.begin() as connection:
        revoked = tokens.revoke_project(connection, name)
    return removed, revoked


def listing(stores: Stores) -> list[dict]:
    with stores.telemetry.connect() as connection:
        rows = connection.execute(select(projects).order_by(projects.c.name)).mappings().all()
    with stores.private.connect() as connection:
        active = {}
        for token in tokens.listing(connection):
            if token["role"] == "maintainer" and token["status"] == "active":
                active.setdefault(token["project"], []).append(token["holder"])
    return [{"name": r["name"], "registered_at": r["registered_at"].isoformat(),
             "maintainers": sorted(active.get(r["name"], []))} for r in rows]


def is_registered(connection: Connection, name: str) -> bool:
    return _exists(connection, name)


def _exists(connection: Connection, name: str) -> bool:
    return connection.execute(select(projects.c.name).where(projects.c.name == name)).first() is not None
