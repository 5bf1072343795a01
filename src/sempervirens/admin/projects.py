"""Registering projects (for servers run with --registered-projects-only), their maintainers
and what they declare they collect.

Names are normalised like package names (PEP 503), so `Scikit_Learn` and
`scikit-learn` are one project.  A project's maintainers are the holders of its
maintainer tokens: `add --maintainer` gives each one a token.  A project's
declaration is its metrics file (model/declarations.py), kept as JSON in
`projects.declaration`: the aggregation publishes nothing else of it
(`declarations`), and the public catalogue lists exactly that.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import Connection, Engine, delete, select

from ..model.declarations import Declaration
from ..protocol import ProtocolError, normalize_project
from ..store import Stores
from ..store.schema import projects
from . import tokens


class NotRegistered(LookupError):
    """The project is not registered (`admin project add` registers it)."""


class AlreadyDeclared(ValueError):
    """`add` with a declaration other than the one the project has: that is an update."""


def add(stores: Stores, name: str, maintainers: tuple[str, ...] = (),
        expires_days: float | None = None, declaration: Declaration | None = None,
        registered_at: datetime | None = None) -> tuple[str, bool, list[tuple[str, str]]]:
    """(normalised name, newly registered?, [(maintainer, token)]).

    With a declaration, the project is registered with it; a registered project that
    declared nothing yet takes it; one that declared something else raises
    AlreadyDeclared, and nothing changes (`declare` replaces a declaration).
    Its periods are released from the day it is registered (`registered_at`, default now).
    """
    name = normalize_project(name)
    with stores.telemetry.begin() as connection:
        new = not _exists(connection, name)
        now = datetime.now(timezone.utc)
        if new:
            connection.execute(projects.insert().values(
                name=name, registered_at=registered_at or now,
                declaration=declaration.to_json() if declaration is not None else None,
                declared_at=now if declaration is not None else None))
        elif declaration is not None:
            current = _declaration(connection, name)
            if current is None:
                _store(connection, name, declaration, now)
            elif current != declaration:
                raise AlreadyDeclared(f"{name} is already registered with another metrics file; "
                                      f"`admin project update {name} --metrics FILE` replaces it")
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


def declare(stores: Stores, name: str, declaration: Declaration) -> bool:
    """Replace a registered project's declaration; whether it changed (declared_at is
    set only then).  NotRegistered if the project is not registered."""
    name = normalize_project(name)
    with stores.telemetry.begin() as connection:
        if not _exists(connection, name):
            raise NotRegistered(f"no such project: {name}")
        if _declaration(connection, name) == declaration:
            return False
        _store(connection, name, declaration, datetime.now(timezone.utc))
    return True


def declaration(connection: Connection | Engine, name: str) -> Declaration | None:
    """What a project declared; None if it is not registered (or the name is not a
    project name) or declared nothing."""
    try:
        name = normalize_project(name)
    except ProtocolError:
        return None
    if isinstance(connection, Engine):
        with connection.connect() as opened:
            return _declaration(opened, name)
    return _declaration(connection, name)


def declared_at(connection: Connection, name: str) -> datetime | None:
    """When a project's declaration last changed (UTC); None if it declared nothing."""
    value = connection.execute(select(projects.c.declared_at).where(
        projects.c.name == name, projects.c.declaration.is_not(None))).scalar()
    if value is not None and value.tzinfo is None:  # SQLite keeps UTC without its offset
        value = value.replace(tzinfo=timezone.utc)
    return value


def declarations(engine: Engine) -> dict[str, Declaration]:
    """{project: Declaration} of every project that declared something: what is published."""
    with engine.connect() as connection:
        rows = connection.execute(select(projects.c.name, projects.c.declaration).where(
            projects.c.declaration.is_not(None)).order_by(projects.c.name)).all()
    return {name: Declaration.from_json(text) for name, text in rows}


def changes(old: Declaration | None, new: Declaration) -> list[str]:
    """What replacing `old` by `new` changes, one line each, for the operator to check."""
    old = old or Declaration()
    lines = []
    before, after = old.by_name, new.by_name
    for name in sorted(after.keys() - before.keys()):
        lines.append(f"metric added: {name} ({after[name].kind})")
    for name in sorted(before.keys() - after.keys()):
        lines.append(f"metric removed: {name} ({before[name].kind})")
    for name in sorted(before.keys() & after.keys()):
        was, now = before[name], after[name]
        if was.kind != now.kind:
            lines.append(f"metric {name}: kind {was.kind} -> {now.kind}")
        lines += _listed(f"metric {name}: label", was.labels, now.labels)
        if was.description != now.description:
            lines.append(f"metric {name}: description changed")
        if was.unit != now.unit:
            lines.append(f"metric {name}: unit {was.unit or '(none)'} -> {now.unit or '(none)'}")
    lines += _listed("version", old.versions, new.versions)
    lines += _listed("crash kind", old.crash_kinds, new.crash_kinds)
    return lines


def _listed(what: str, old: tuple[str, ...], new: tuple[str, ...]) -> list[str]:
    return ([f"{what} added: {v}" for v in new if v not in old]
            + [f"{what} removed: {v}" for v in old if v not in new])


def to_toml(declaration: Declaration) -> str:
    """The declaration as a metrics file (that `parse` reads back as the same declaration)."""
    lines = []
    if declaration.versions:
        lines.append(f"versions = {_toml_list(declaration.versions)}")
    if declaration.crash_kinds:
        lines.append(f"crash_kinds = {_toml_list(declaration.crash_kinds)}")
    for metric in declaration.metrics:
        lines += ["", f"[metrics.{_toml_string(metric.name)}]",
                  f"kind = {_toml_string(metric.kind)}",
                  f"description = {_toml_string(metric.description)}"]
        if metric.unit:
            lines.append(f"unit = {_toml_string(metric.unit)}")
        if metric.labels:
            lines.append(f"labels = {_toml_list(metric.labels)}")
    return "\n".join(lines).lstrip("\n") + "\n"


def _toml_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(_toml_string(v) for v in values) + "]"


def _toml_string(value: str) -> str:
    """A TOML basic string: quote, backslash and control characters escaped."""
    escaped = "".join("\\" + c if c in '"\\'
                      else f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7f
                      else c for c in value)
    return f'"{escaped}"'


def is_registered(connection: Connection, name: str) -> bool:
    return _exists(connection, name)


def _exists(connection: Connection, name: str) -> bool:
    return connection.execute(select(projects.c.name).where(projects.c.name == name)).first() is not None


def _declaration(connection: Connection, name: str) -> Declaration | None:
    text = connection.execute(
        select(projects.c.declaration).where(projects.c.name == name)).scalar()
    return None if text is None else Declaration.from_json(text)


def _store(connection: Connection, name: str, declaration: Declaration, now: datetime) -> None:
    connection.execute(projects.update().where(projects.c.name == name).values(
        declaration=declaration.to_json(), declared_at=now))


def registered_days(engine: Engine) -> dict[str, date]:
    """{project: the UTC day it was registered}: its first released period starts there."""
    with engine.connect() as connection:
        rows = connection.execute(select(projects.c.name, projects.c.registered_at)).all()
    return {name: (at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at)
            .astimezone(timezone.utc).date() for name, at in rows}
