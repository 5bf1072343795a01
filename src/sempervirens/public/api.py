"""/api/v1: the public statistics as JSON or CSV, answering what the pages show.

Every answer comes from queries.py (the public_* tables only).  Parameters:
interval=day|week|month, from/to=YYYY-MM-DD (period starts), format=json|csv.
"""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.routing import Route

from ..aggregate.tables import INTERVALS
from ..protocol import ProtocolError, normalize_project
from ..server.errors import BadRequest, NotFound
from . import queries
from ._respond import cached, table

import orjson


def _engine(request: Request):
    return request.app.state.stores.telemetry


def parse_query(request: Request) -> queries.Query:
    """The project and periods of a request; 400 for bad values, 404 for unknown projects."""
    params = request.query_params
    try:
        project = normalize_project(request.path_params["project"])
    except ProtocolError:
        raise NotFound("no such project", field="project") from None
    if project not in queries.projects(_engine(request)):
        raise NotFound(f"no public statistics for project {project!r}", field="project")
    interval = params.get("interval", "day")
    if interval not in INTERVALS:
        raise BadRequest(f"interval must be one of {', '.join(INTERVALS)}", field="interval")
    if params.get("format", "json") not in ("json", "csv"):
        raise BadRequest("format must be json or csv", field="format")
    return queries.Query(project, interval, _date(params, "from"), _date(params, "to"))


def _date(params, name: str) -> date | None:
    value = params.get(name)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name} must be a date, YYYY-MM-DD", field=name) from None


def _payload(query: queries.Query, **extra) -> dict:
    return {"project": query.project, "interval": query.interval,
            "from": query.start.isoformat() if query.start else None,
            "to": query.end.isoformat() if query.end else None, **extra}


def list_projects(request: Request):
    engine = _engine(request)
    rows = [queries.headline(engine, p) for p in queries.projects(engine)]
    if request.query_params.get("format") == "csv":
        return table(request, {}, rows, ["project", "week", "weekly_installs",
                                         "previous_week_installs", "trend_percent", "month",
                                         "monthly_installs"], "projects")
    return cached(request, orjson.dumps({"projects": rows,
                                         "parameters": queries.parameters(engine)}),
                  "application/json")


def active_installs(request: Request):
    query = parse_query(request)
    breakdown = request.query_params.get("breakdown", "")
    if breakdown not in queries.BREAKDOWNS:
        raise BadRequest("breakdown must be one of version, os, arch, python, ci (or empty)",
                         field="breakdown")
    rows = queries.active_installs(_engine(request), query, breakdown)
    return table(request, _payload(query, breakdown=breakdown), rows,
                 ["period_start", "value", "installs"], f"{query.project}-active-installs")


def features(request: Request):
    query = parse_query(request)
    metric = request.query_params.get("metric") or None
    rows = queries.features(_engine(request), query, metric)
    return table(request, _payload(query, metric=metric), rows,
                 ["period_start", "metric", "label", "events", "users"], f"{query.project}-features")


def timings(request: Request):
    query = parse_query(request)
    metric = request.query_params.get("metric") or None
    rows = queries.timings(_engine(request), query, metric)
    return table(request, _payload(query, metric=metric), rows,
                 ["period_start", "metric", "p50_us", "p90_us", "p99_us", "samples", "users"],
                 f"{query.project}-timings")


def crashes(request: Request):
    query = parse_query(request)
    rows = queries.crashes(_engine(request), query)
    return table(request, _payload(query), rows,
                 ["period_start", "exception_type", "version", "crashes", "users"],
                 f"{query.project}-crashes")


def opt_outs(request: Request):
    query = parse_query(request)
    rows = queries.opt_outs(_engine(request), query)
    return table(request, _payload(query), rows, ["period_start", "opt_outs", "active", "ratio"],
                 f"{query.project}-opt-outs")


def metrics(request: Request):
    query = parse_query(request)
    return cached(request, orjson.dumps(queries.metric_names(_engine(request), query.project)),
                  "application/json")


def parameters(request: Request):
    return cached(request, orjson.dumps(queries.parameters(_engine(request))), "application/json")


BASE = "/api/v1/projects/{project}"
routes = [
    Route("/api/v1/projects", list_projects, methods=["GET"]),
    Route("/api/v1/parameters", parameters, methods=["GET"]),
    Route(BASE + "/active-installs", active_installs, methods=["GET"]),
    Route(BASE + "/features", features, methods=["GET"]),
    Route(BASE + "/timings", timings, methods=["GET"]),
    Route(BASE + "/crashes", crashes, methods=["GET"]),
    Route(BASE + "/opt-outs", opt_outs, methods=["GET"]),
    Route(BASE + "/metrics", metrics, methods=["GET"]),
]
