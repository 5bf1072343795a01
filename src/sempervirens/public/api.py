"""/api/v1: the released statistics as JSON or CSV, answering what the pages show.

Every answer comes from queries.py (the releases only).  Parameters:
interval=day|week|month, from/to=YYYY-MM-DD (period starts), format=json|csv.
Every number comes with its noise standard deviation (`_sd`) and 95% interval
(`_low`, `_high`).
"""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.routing import Route

from ..protocol import ProtocolError, normalize_project
from ..protocol.errors import BadRequest, NotFound
from ..model.statistics import PERCENTILES
from . import _params, queries
from ._latest import Latest
from ._respond import cached, table

import orjson


def _engine(request: Request):
    return request.app.state.stores.telemetry


def parse_query(request: Request) -> tuple[queries.Query, dict[str, str]]:
    """The project and periods of a request, and its checked parameters (_params.py);
    400 for bad ones, 404 for unknown projects."""
    params = _params.read(request)
    try:
        project = normalize_project(request.path_params["project"])
    except ProtocolError:
        raise NotFound("no such project", field="project") from None
    if project not in queries.projects(_engine(request)):
        raise NotFound(f"no public statistics for project {project!r}", field="project")
    start, end = _dates(params)
    return queries.Query(project, params.get("interval", "day"), start, end), params


def _dates(params: dict[str, str]) -> tuple[date | None, date | None]:
    start, end = _params.day(params, "from"), _params.day(params, "to")
    if start is not None and end is not None and start > end:
        raise BadRequest("from must not be after to", field="from")
    return start, end


def _payload(query: queries.Query, **extra) -> dict:
    return {"project": query.project, "interval": query.interval,
            "from": query.start.isoformat() if query.start else None,
            "to": query.end.isoformat() if query.end else None, **extra}


def _flat_headline(row: dict) -> dict:
    flat = {"project": row["project"]}
    for interval in ("week", "month"):
        part = row[interval]
        latest, previous = part["installs"] or {}, part["previous"] or {}
        flat.update({interval: part["period_start"],
                     f"{interval}ly_installs": latest.get("installs"),
                     f"{interval}ly_installs_low": latest.get("installs_low"),
                     f"{interval}ly_installs_high": latest.get("installs_high"),
                     f"previous_{interval}_installs": previous.get("installs"),
                     f"{interval}_trend_percent": part["trend_percent"]})
    return flat


def list_projects(request: Request):
    params = _params.read(request)
    engine = _engine(request)
    rows = [queries.headline(engine, p) for p in queries.projects(engine)]
    if params.get("format") == "csv":
        flat = [_flat_headline(r) for r in rows]
        return table(request, {}, flat, list(flat[0]) if flat else ["project"], "projects")
    return cached(request, orjson.dumps({"projects": rows}), "application/json")


def active_installs(request: Request):
    query, params = parse_query(request)
    breakdown = params.get("breakdown", "")
    rows = queries.active_installs(_engine(request), query, breakdown)
    return table(request, _payload(query, breakdown=breakdown), rows,
                 ["period_start", "value", *_measured("installs")],
                 f"{query.project}-active-installs")


def features(request: Request):
    query, params = parse_query(request)
    metric = params.get("metric")
    rows = queries.features(_engine(request), query, metric)
    return table(request, _payload(query, metric=metric), rows,
                 ["period_start", "metric", "label", *_measured("users"), *_measured("events")],
                 f"{query.project}-features")


def timings(request: Request):
    query, params = parse_query(request)
    metric = params.get("metric")
    rows = queries.timings(_engine(request), query, metric)
    return table(request, _payload(query, metric=metric), rows,
                 ["period_start", "metric",
                  *(f"p{p}_us{s}" for p in PERCENTILES for s in ("", "_low", "_high"))],
                 f"{query.project}-timings")


def crashes(request: Request):
    query, _ = parse_query(request)
    rows = queries.crashes(_engine(request), query)
    return table(request, _payload(query), rows,
                 ["period_start", "exception_type", "version", *_measured("users"),
                  *_measured("crashes")], f"{query.project}-crashes")


def opt_outs(request: Request):
    query, _ = parse_query(request)
    rows = queries.opt_outs(_engine(request), query)
    return table(request, _payload(query), rows,
                 ["period_start", *_measured("opt_outs"), "active", "ratio", "ratio_low",
                  "ratio_high"], f"{query.project}-opt-outs")


def _measured(name: str) -> list[str]:
    """A released number's columns: the value, its noise SD and 95% interval."""
    return [name, f"{name}_sd", f"{name}_low", f"{name}_high"]


def ecosystem(request: Request):
    """Every project's installations together, by Python version, OS or architecture."""
    params = _params.read(request)
    interval, breakdown = params.get("interval", "week"), params.get("breakdown", "python")
    start, end = _dates(params)
    rows = queries.ecosystem(_engine(request), interval, breakdown, start, end)
    payload = {"interval": interval, "breakdown": breakdown,
               "from": start and start.isoformat(), "to": end and end.isoformat()}
    return table(request, payload, rows,
                 ["period_start", "value", "projects", "installs", "installs_low",
                  "installs_high", "share", "share_low", "share_high"],
                 f"ecosystem-{breakdown}")


def metrics(request: Request):
    query, _ = parse_query(request)
    return cached(request, orjson.dumps(queries.metric_names(_engine(request), query.project)),
                  "application/json")


def parameters(request: Request):
    """The privacy parameters the releases are made with."""
    from ..release import parameters as in_force

    _params.read(request)
    return cached(request, orjson.dumps({"parameters": in_force(request.app.state.settings)}),
                  "application/json")


def releases(request: Request):
    """The budget ledger: every release, and what it spent.  Read and serialised once per
    state of the ledger, not per request: a few years of releases cost seconds of CPU."""
    _params.read(request)
    engine = _engine(request)
    body = _ledger.get((id(engine), queries.ledger_state(engine)),
                       lambda: orjson.dumps({"releases": queries.releases(engine)}))
    return cached(request, body, "application/json")


_ledger: Latest[bytes] = Latest()


def budget(request: Request):
    """The guarantee one installation gets over a day, a month and a year."""
    from ._guarantee import guarantee

    _params.read(request)
    return cached(request, orjson.dumps(guarantee(_engine(request), request.app.state.settings)),
                  "application/json")


BASE = "/api/v1/projects/{project}"
routes = [
    Route("/api/v1/projects", list_projects, methods=["GET"]),
    Route("/api/v1/parameters", parameters, methods=["GET"]),
    Route("/api/v1/privacy/budget", budget, methods=["GET"]),
    Route("/api/v1/privacy/releases", releases, methods=["GET"]),
    Route("/api/v1/ecosystem", ecosystem, methods=["GET"]),
    Route(BASE + "/active-installs", active_installs, methods=["GET"]),
    Route(BASE + "/features", features, methods=["GET"]),
    Route(BASE + "/timings", timings, methods=["GET"]),
    Route(BASE + "/crashes", crashes, methods=["GET"]),
    Route(BASE + "/opt-outs", opt_outs, methods=["GET"]),
    Route(BASE + "/metrics", metrics, methods=["GET"]),
]
