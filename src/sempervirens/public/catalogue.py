"""What each project collects: its declared metrics, as a page and as JSON.

    GET /api/v1/projects/{project}/catalogue   JSON
    GET /projects/{project}/catalogue          the same, as a page (like the Glean Dictionary)

Both read one row of the `projects` table (the declaration an operator registered
with `sempervirens admin project add|update NAME --metrics FILE`) and the fixed
breakdown domains of model/domains.py: never a ping, so nothing but declared names
can appear.  A project that is not registered, or declared nothing, is 404.
"""

from __future__ import annotations

from datetime import timezone

import orjson
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..model.declarations import KIND_DESCRIPTIONS, Declaration
from ..model.domains import BREAKDOWNS, OTHER, UNKNOWN
from ..protocol import ProtocolError, normalize_project
from ..protocol.errors import NotFound
from ..store.schema import projects
from . import _params
from ._respond import cached


def _declared(request: Request) -> tuple[str, Declaration, str | None] | None:
    """(project, its declaration, when declared) or None (not registered, or nothing declared)."""
    try:
        name = normalize_project(request.path_params["project"])
    except ProtocolError:
        return None
    # The row admin/projects.py writes (read here, not through admin: public and admin
    # are one layer, and admin already imports public's templates).
    with request.app.state.stores.telemetry.connect() as connection:
        row = connection.execute(select(projects.c.declaration, projects.c.declared_at).where(
            projects.c.name == name, projects.c.declaration.is_not(None))).first()
    if row is None:
        return None
    at = row.declared_at
    if at is not None and at.tzinfo is None:  # SQLite keeps UTC without its offset
        at = at.replace(tzinfo=timezone.utc)
    when = at.isoformat(timespec="seconds") if at else None
    return name, Declaration.from_json(row.declaration), when


def catalogue(project: str, declaration: Declaration, declared_at: str | None) -> dict:
    """The public description of what a project collects (the API's answer)."""
    return {
        "project": project,
        "declared_at": declared_at,
        "metrics": [{"name": m.name, "kind": m.kind, "description": m.description,
                     "unit": m.unit or None, "labels": list(m.labels)}
                    for m in declaration.metrics],
        "versions": list(declaration.versions),
        "crash_kinds": list(declaration.crash_kinds),
        "kinds": KIND_DESCRIPTIONS,
        "breakdowns": [_breakdown(b, declaration) for b in BREAKDOWNS],
    }


def _breakdown(breakdown, declaration: Declaration) -> dict:
    if breakdown.name == "version":
        if declaration.versions:
            values, domain = [*declaration.versions, OTHER, UNKNOWN], "declared"
        else:
            values, domain = [], "partition selection"
    else:
        values, domain = list(breakdown.public_values), "fixed"
    return {"name": breakdown.name, "description": breakdown.description, "domain": domain,
            "values": values}


def catalogue_json(request: Request) -> Response:
    _params.read(request)
    found = _declared(request)
    if found is None:
        raise NotFound("no declared metrics for that project", field="project")
    return cached(request, orjson.dumps(catalogue(*found)), "application/json")


def catalogue_page(request: Request) -> Response:
    from .pages import not_found, render

    found = _declared(request)
    if found is None:
        return not_found(request)
    return render(request, "catalogue.html", **catalogue(*found), other=OTHER, unknown=UNKNOWN)


routes = [
    Route("/api/v1/projects/{project}/catalogue", catalogue_json, methods=["GET"]),
    Route("/projects/{project}/catalogue", catalogue_page, methods=["GET"]),
]

__all__ = ["catalogue", "routes"]
