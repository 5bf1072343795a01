"""The private API (bearer tokens, audited, never cached) and the public transparency summary.

    GET /api/v1/private/projects/{project}/institutions   maintainer of the project, or admin
    GET /api/v1/private/anomalies                          admin
    GET /api/v1/private/audit                              admin
    GET /api/v1/transparency                               everyone: private reads per month

Each private answer is preceded by its audit row; if that cannot be written, no
data goes out.  A maintainer's answers hold counts per institution only: the
private aggregates keep no IP address and no client UUID.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..aggregate import tables as aggregate_tables
from ..protocol import ProtocolError, normalize_project
from ..public import notices
from ..protocol.errors import BadRequest
from . import audit
from ._auth import NO_STORE, authorize, require_project
from ._rows import json_rows
from .tokens import Principal

MAX_ROWS = 10_000
_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_DIGITS = re.compile(r"[0-9]{1,19}")


def routes() -> list[Route]:
    return [
        Route("/api/v1/private/projects/{project}/institutions", institutions, methods=["GET"]),
        Route("/api/v1/private/anomalies", anomalies, methods=["GET"]),
        Route("/api/v1/private/audit", audit_entries, methods=["GET"]),
        Route("/api/v1/transparency", transparency, methods=["GET"]),
    ]


async def institutions(request: Request) -> JSONResponse:
    principal = await authorize(request)
    project = _project(request.path_params["project"])
    require_project(principal, project)
    interval = request.query_params.get("interval", "month")
    if interval not in aggregate_tables.INTERVALS:
        raise _bad(f"interval must be one of {', '.join(aggregate_tables.INTERVALS)}", "interval")
    start, end = _date(request, "start"), _date(request, "end")

    min_users = request.app.state.settings["private_min_users"]

    def read(connection) -> dict:
        return read_institutions(connection, project, interval, min_users, start, end)

    return await _audited(request, principal, "institutions", project, read)


def read_institutions(connection, project: str, interval: str, min_users: int,
                      start: date | None = None, end: date | None = None) -> dict:
    """A project's institutions and academic counts: counts only, never an IP or a UUID,
    and only the institutions with at least `min_users` installations in a period (fewer
    name a few people: "smith-consulting.com, 1 installation on 3 March")."""
    by_institution, summary = aggregate_tables.private_institution_users, aggregate_tables.private_origin_summary

    def period(table, *order, where=()):
        query = select(table).where(table.c.project == project, table.c.interval == interval,
                                    *where)
        if start:
            query = query.where(table.c.period_start >= start)
        if end:
            query = query.where(table.c.period_start <= end)
        # The newest MAX_ROWS rows (the oldest were kept: a year of daily rows hid the last
        # months), given oldest period first (sorted() keeps each period's own order).
        newest = query.order_by(table.c.period_start.desc(), *order).limit(MAX_ROWS)
        return sorted(json_rows(connection.execute(newest), drop=("project", "interval")),
                      key=lambda row: row["period_start"])
    return {"project": project, "interval": interval, "min_users": min_users,
            "summary": period(summary),
            "institutions": period(by_institution, by_institution.c.users.desc(),
                                   by_institution.c.institution,
                                   where=[by_institution.c.users >= min_users])}


async def anomalies(request: Request) -> JSONResponse:
    principal = await authorize(request, role="admin")
    project = request.query_params.get("project")
    project = _project(project) if project is not None else None

    def read(connection) -> dict:
        return read_anomalies(connection, project)

    return await _audited(request, principal, "anomalies", project, read)


def read_anomalies(connection, project: str | None = None) -> dict:
    """One-address anomalies, newest first (admins only: they hold the address)."""
    table = aggregate_tables.anomalies
    query = select(table).order_by(table.c.day.desc(), table.c.clients.desc()).limit(MAX_ROWS)
    if project:
        query = query.where(table.c.project == project)
    return {"anomalies": json_rows(connection.execute(query))}


async def audit_entries(request: Request) -> JSONResponse:
    principal = await authorize(request, role="admin")
    month = request.query_params.get("month")
    if month is not None and not _MONTH.fullmatch(month):
        raise _bad("month must read YYYY-MM", "month")
    before = _int(request, "before", 1, 2**62)
    limit = _int(request, "limit", 1, 1000) or 100

    def read(connection) -> dict:
        return {"entries": audit.listing(connection, month=month, before=before, limit=limit)}

    return await _audited(request, principal, "audit", None, read)


async def transparency(request: Request) -> JSONResponse:
    def read() -> dict:
        with request.app.state.stores.private.connect() as connection:
            summary = audit.public_summary(connection)
        legal = notices.read(request.app.state.stores.telemetry, notices.legal_report)
        return {**summary, "legal_requests": legal}
    body = await asyncio.to_thread(read)
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})


async def _audited(request: Request, principal: Principal, action: str, project: str | None,
                   read) -> JSONResponse:
    purpose = request.headers.get("x-purpose") or request.query_params.get("purpose")
    body = await audited_read(request, principal, action, project, purpose, read)
    return JSONResponse(body, headers=NO_STORE)


async def audited_read(request: Request, principal: Principal, action: str, project: str | None,
                       purpose: str | None, read) -> dict:
    """read(connection) after its audit row is committed (the private pages read through here too)."""
    engine = request.app.state.stores.private

    def run() -> dict:
        with engine.begin() as connection:  # committed before anything is read
            audit.record(connection, holder=principal.holder, role=principal.role, action=action,
                         project=project, token_id=principal.token_id, purpose=purpose)
        with engine.connect() as connection:
            return read(connection)

    return await asyncio.to_thread(run)


def _bad(message: str, field: str) -> BadRequest:
    return BadRequest(message, field=field, headers=NO_STORE)


def _project(name: str) -> str:
    try:
        return normalize_project(name)
    except ProtocolError as error:
        raise _bad(error.message, "project") from None


def _date(request: Request, name: str) -> date | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _bad(f"{name} must be a date, YYYY-MM-DD", name) from None


def _int(request: Request, name: str, low: int, high: int) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if not _DIGITS.fullmatch(value) or not low <= int(value) <= high:
        raise _bad(f"{name} must be a whole number from {low} to {high}", name)
    return int(value)
