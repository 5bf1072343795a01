"""The public pages: server-rendered HTML (Jinja2), charts drawn by static/app.js.

Numbers on the pages come from queries.py (the releases only); the charts fetch
the same numbers from /api/v1.  No inline script or style anywhere (see security.py).
"""

from __future__ import annotations

import functools
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..model.domains import BREAKDOWNS
from ..protocol import ProtocolError, normalize_project
from ..protocol.errors import NotFound
from . import datasets, notices, queries
from ._respond import cached

HERE = Path(__file__).parent
INTERVAL_NAMES = {"day": "Daily", "week": "Weekly", "month": "Monthly"}
METRICS = {"installs": "Active installations", "features": "Feature usage",
           "timings": "Timings (percentiles)", "crashes": "Crashes", "opt-outs": "Opt-out ratio"}
BREAKDOWN_NAMES = {"": "Total", **{b.name: b.label for b in BREAKDOWNS}}


@functools.lru_cache(maxsize=1)
def _templates():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["number"] = lambda n: "–" if n is None else f"{n:,}"
    return env


def render(request: Request, template: str, status: int = 200, **context) -> Response:
    through = queries.released_through(_engine(request))
    html = _templates().get_template(template).render(
        request=request, released_through=through and through.isoformat(), **context).encode()
    if status != 200:
        return HTMLResponse(html, status_code=status)
    return cached(request, html, "text/html; charset=utf-8")


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
    form = {
        "metric": params.get("metric") if params.get("metric") in METRICS else "installs",
        "breakdown": params.get("breakdown") if params.get("breakdown") in BREAKDOWN_NAMES else "",
        "interval": params.get("interval") if params.get("interval") in INTERVAL_NAMES else "day",
        "from": params.get("from", ""), "to": params.get("to", ""), "name": params.get("name", ""),
    }
    return render(request, "project.html", project=name, headline=queries.headline(engine, name),
                  form=form, metrics=METRICS, intervals=INTERVAL_NAMES,
                  breakdowns=BREAKDOWN_NAMES, names=queries.metric_names(engine, name))


def privacy(request: Request) -> Response:
    from markdown_it import MarkdownIt

    path = request.app.state.settings.get("privacy_doc") or HERE / "privacy.md"
    text = Path(path).read_text(encoding="utf-8")
    # html=False: the document's own HTML is shown as text, never run.
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    from ..release import guarantee, parameters

    settings = request.app.state.settings
    return render(request, "privacy.html", body=body, parameters=parameters(settings),
                  guarantee=guarantee(_engine(request), settings),
                  policy=notices.read(_engine(request), notices.policy), contact=settings.get("contact"))


def dataset_list(request: Request) -> Response:
    directory = datasets.releases_dir(request.app.state.settings)
    return render(request, "datasets.html", releases=datasets.list_releases(directory))


def dataset_file(request: Request) -> Response:
    directory = datasets.releases_dir(request.app.state.settings)
    path = datasets.release_file(directory, request.path_params["project"],
                                 request.path_params["release"], request.path_params["filename"])
    if path is None:
        raise NotFound("no such dataset file")
    media = {".csv": "text/csv; charset=utf-8", ".parquet": "application/vnd.apache.parquet",
             ".json": "application/json", ".md": "text/markdown; charset=utf-8"}.get(
        path.suffix, "text/plain; charset=utf-8")
    return FileResponse(path, media_type=media, headers={"Cache-Control": "public, max-age=86400"},
                        filename=path.name if path.suffix in (".csv", ".parquet") else None)


def not_found(request: Request) -> Response:
    return render(request, "404.html", status=404)


routes = [
    Route("/", index, methods=["GET"]),
    Route("/projects/{project}", project, methods=["GET"]),
    Route("/privacy", privacy, methods=["GET"]),
    Route("/datasets", dataset_list, methods=["GET"]),
    Route("/datasets/{project}/{release}/{filename}", dataset_file, methods=["GET"]),
    Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
]
