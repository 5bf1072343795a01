"""The public pages: server-rendered HTML (Jinja2), charts drawn by static/app.js.

Numbers on the pages come from queries.py (the releases only); the charts fetch
the same numbers from /api/v1.  No inline script or style anywhere (see security.py).
"""

from __future__ import annotations

import functools
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from ..model.domains import BREAKDOWNS, SHARED_BREAKDOWN_NAMES
from ..protocol import ProtocolError, normalize_project
from ..protocol.errors import NotFound
from . import datasets, notices, queries
from ._download import Download, Static
from ._latest import Latest
from ._respond import cached

HERE = Path(__file__).parent
INTERVAL_NAMES = {"day": "Daily", "week": "Weekly", "month": "Monthly"}
METRICS = {"installs": "Active installations", "features": "Feature usage",
           "timings": "Timings (percentiles)", "crashes": "Crashes", "opt-outs": "Opt-out ratio"}
BREAKDOWN_NAMES = {"": "Total", **{b.name: b.label for b in BREAKDOWNS}}
# The form's fields that mean something for each metric; the others are left out.
RELEVANT = {"installs": ("breakdown",), "features": ("name",), "timings": ("name",),
            "crashes": (), "opt-outs": ()}
# One-click ranges: (label, days back from the last released day, interval drawn).
RANGES = (("Last 30 days", 30, "day"), ("90 days", 90, "week"), ("12 months", 365, "month"))


@functools.lru_cache(maxsize=1)
def _templates():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["number"] = lambda n: "–" if n is None else f"{n:,}"
    env.filters["period"] = period_name
    return env


def period_name(start: str | None, interval: str) -> str:
    """A period as a reader says it: "November 2026", "the week of 23 Nov 2026"."""
    if not start:
        return "–"
    day = date.fromisoformat(start)
    if interval == "month":
        return day.strftime("%B %Y")
    if interval == "week":
        return f"the week of {day.day} {day.strftime('%b %Y')}"
    return f"{day.day} {day.strftime('%b %Y')}"


def render(request: Request, template: str, status: int = 200, **context) -> Response:
    html = _html(request, template, queries.released_through(_engine(request)), **context)
    if status != 200:
        return HTMLResponse(html, status_code=status)
    return cached(request, html, "text/html; charset=utf-8")


def _html(request: Request, template: str, through: date | None, **context) -> bytes:
    return _templates().get_template(template).render(
        request=request, released_through=through and through.isoformat(), **context).encode()


def _engine(request: Request):
    return request.app.state.stores.telemetry


def index(request: Request) -> Response:
    engine = _engine(request)
    rows = [queries.headline(engine, p) for p in queries.projects(engine)]
    return render(request, "index.html", projects=rows,
                  latest_notice=notices.read(engine, notices.latest_recent))


def project(request: Request) -> Response:
    engine = _engine(request)
    try:
        name = normalize_project(request.path_params["project"])
    except ProtocolError:
        name = None
    if name is None or name not in queries.projects(engine):
        return not_found(request)
    params = request.query_params
    metric = params.get("metric") if params.get("metric") in METRICS else "installs"
    form = {
        "metric": metric,
        "breakdown": params.get("breakdown") if params.get("breakdown") in BREAKDOWN_NAMES else "",
        "interval": params.get("interval") if params.get("interval") in INTERVAL_NAMES else "day",
        "from": _form_date(params.get("from")), "to": _form_date(params.get("to")),
        "name": params.get("name", ""),
    }
    error = None
    if form["from"] and form["to"] and form["from"] > form["to"]:
        error = f"The range is reversed: “from” ({form['from']}) is after “to” ({form['to']})."
    return render(request, "project.html", project=name, headline=queries.headline(engine, name),
                  form=form, error=error, relevant=RELEVANT, metrics=METRICS,
                  intervals=INTERVAL_NAMES, breakdowns=BREAKDOWN_NAMES,
                  names=queries.metric_names(engine, name),
                  ranges=_ranges(name, form, queries.released_through(engine)))


def _form_date(value: str | None) -> str:
    """A YYYY-MM-DD of the query string, or "" (a bad one is dropped, not echoed)."""
    try:
        return date.fromisoformat(value).isoformat() if value else ""
    except ValueError:
        return ""


def _ranges(project: str, form: dict, through: date | None) -> list[dict]:
    """The one-click ranges, ending with the last released day, as links keeping the
    metric and its relevant choices."""
    if through is None:
        return []
    keep = {k: form[k] for k in ("metric", *RELEVANT[form["metric"]]) if form[k]}
    out = []
    for label, days, interval in RANGES:
        start = (through - timedelta(days=days - 1)).isoformat()
        query = {**keep, "interval": interval, "from": start}
        out.append({"label": label, "href": f"/projects/{project}?{urlencode(query)}",
                    "current": form["from"] == start and not form["to"]
                    and form["interval"] == interval})
    return out


def ecosystem(request: Request) -> Response:
    params = request.query_params
    interval = params.get("interval") if params.get("interval") in INTERVAL_NAMES else "week"
    return render(request, "ecosystem.html", interval=interval, intervals=INTERVAL_NAMES,
                  breakdowns={b: BREAKDOWN_NAMES[b] for b in SHARED_BREAKDOWN_NAMES},
                  projects=queries.projects(_engine(request)))


def privacy(request: Request) -> Response:
    from ._markdown import markdown

    path = request.app.state.settings.get("privacy_doc") or HERE / "privacy.md"
    body = markdown(Path(path).read_text(encoding="utf-8-sig"))  # a BOM is not text
    from ..release import parameters
    from ._guarantee import guarantee

    settings = request.app.state.settings
    return render(request, "privacy.html", body=body, parameters=parameters(settings),
                  guarantee=guarantee(_engine(request), settings),
                  policy=notices.read(_engine(request), notices.policy), contact=settings.get("contact"))


def dataset_list(request: Request) -> Response:
    """Every release's files: rendered once per listing (datasets.listing) and last
    released day, not per request (a few years of releases make megabytes of HTML)."""
    directory = datasets.releases_dir(request.app.state.settings)
    listing = datasets.listing(directory)
    through = queries.released_through(_engine(request))
    html = _datasets_page.get(
        (str(directory), listing.generation, through),
        lambda: _html(request, "datasets.html", through, intervals=INTERVAL_NAMES,
                      kinds=datasets.by_period(listing.releases), count=len(listing.releases)))
    return cached(request, html, "text/html; charset=utf-8")


_datasets_page: Latest[bytes] = Latest()


def dataset_latest(request: Request) -> Response:
    """/datasets/latest/{project}/{interval}/{filename}: the newest release's file."""
    directory = datasets.releases_dir(request.app.state.settings)
    latest = datasets.latest(datasets.list_releases(directory), request.path_params["project"],
                             request.path_params["interval"])
    filename = request.path_params["filename"]
    if latest is None or datasets.release_file(directory, *latest["path"].split("/"),
                                               filename) is None:
        raise NotFound("no such dataset file")
    return RedirectResponse(f"/datasets/{latest['path']}/{filename}", status_code=307)


def dataset_file(request: Request) -> Response:
    directory = datasets.releases_dir(request.app.state.settings)
    path = datasets.release_file(directory, request.path_params["project"],
                                 request.path_params["release"], request.path_params["filename"])
    if path is None:
        raise NotFound("no such dataset file")
    media = {".csv": "text/csv; charset=utf-8", ".parquet": "application/vnd.apache.parquet",
             ".json": "application/json", ".md": "text/markdown; charset=utf-8"}.get(
        path.suffix, "text/plain; charset=utf-8")
    return Download(path, media_type=media, headers={"Cache-Control": "public, max-age=86400"},
                    filename=path.name if path.suffix in (".csv", ".parquet") else None)


def not_found(request: Request) -> Response:
    return render(request, "404.html", status=404)


# Paths whose unknown sub-paths answer JSON errors (machines read them), not a page:
# dataset files are downloads documented in /openapi.json, like the API.
MACHINE_PATHS = ("/api/", "/submit/", "/openapi.json", "/healthz", "/datasets/")


def wants_page(request: Request) -> bool:
    """Whether a 404 for this request is the site's own (an HTML page), not the API's."""
    return request.method in ("GET", "HEAD") and not request.url.path.startswith(MACHINE_PATHS)


routes = [
    Route("/", index, methods=["GET"]),
    Route("/projects/{project}", project, methods=["GET"]),
    Route("/ecosystem", ecosystem, methods=["GET"]),
    Route("/privacy", privacy, methods=["GET"]),
    Route("/datasets", dataset_list, methods=["GET"]),
    Route("/datasets/latest/{project}/{interval}/{filename}", dataset_latest, methods=["GET"]),
    Route("/datasets/{project}/{release}/{filename}", dataset_file, methods=["GET"]),
    Mount("/static", app=Static(directory=HERE / "static"), name="static"),
]


def serving(request: Request) -> bool:
    """False on a private deployment (`--no-dp`), which serves no public page."""
    from ..release import serving_allowed

    return serving_allowed(request.app.state.settings)
