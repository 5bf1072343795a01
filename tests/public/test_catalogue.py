"""The public catalogue lists exactly what a project declared, and nothing it did not.

The server is the real application (create_app, real SQLite stores, real ingestion)
with the catalogue's routes mounted as server/app.py will mount them.
"""

from __future__ import annotations

import html
import re
import threading
import time
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from markupsafe import escape
from starlette.applications import Starlette

from _services.ports import free_port
from pings import new_id, usage
from sempervirens.admin import projects
from sempervirens.model.declarations import parse
from sempervirens.model.domains import BREAKDOWNS, OTHER, UNKNOWN
from sempervirens.public import catalogue
from sempervirens.server.app import create_app

METRICS = """
versions = ["1.0", "2.0"]
crash_kinds = ["ValueError", "astroflux.errors.Diverged"]

[metrics."io.read_fits"]
kind = "counter"
description = "Calls of read_fits: <b>FITS</b> & friends."
unit = "calls"

[metrics."io.format"]
kind = "labeled_counter"
description = "Files read, by format."
labels = ["fits", "hdf5"]

[metrics.solve]
kind = "timing"
description = "Time spent in the solver."
unit = "seconds"
"""
UNDECLARED = ("io.secret_counter", "io.read", "core.fit", "solve_undeclared")


@dataclass
class Site:
    app: Starlette
    http: httpx.Client

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.http.get(path, **kwargs)


@pytest.fixture
def client(tmp_path):
    """The real application on a loopback port (uvicorn in a thread), with a registered
    project that declared its metrics, one that did not, and pings of both."""
    app = create_app({"data_dir": str(tmp_path / "data"), "aggregate_interval_seconds": 0})
    app.router.routes.extend(catalogue.routes)
    projects.add(app.state.stores, "AstroFlux", declaration=parse(METRICS))
    projects.add(app.state.stores, "plain")  # registered, declares nothing
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           ws="none", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.02)
    assert server.started
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            # Pings that record names astroflux never declared reach the store.
            body = usage(metrics={"counters": {"io.secret_counter": 1, "io.read_fits": 2},
                                  "labeled_counters": {"io.read": {"csv": 1}, "io.format": {"xls": 1}}})
            for project in ("astroflux", "undeclared-pkg"):
                answer = http.post(f"/submit/{project}/usage/1/{new_id()}", json=body)
                assert answer.status_code == 202, answer.text
            yield Site(app, http)
    finally:
        server.should_exit = True
        thread.join(20)


def test_the_api_lists_the_declared_metrics_versions_crash_kinds_and_domains(client):
    answer = client.get("/api/v1/projects/astroflux/catalogue")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    data = answer.json()
    assert data["project"] == "astroflux" and data["declared_at"].startswith("20")
    assert data["metrics"] == [
        {"name": "io.format", "kind": "labeled_counter", "description": "Files read, by format.",
         "unit": None, "labels": ["fits", "hdf5"]},
        {"name": "io.read_fits", "kind": "counter",
         "description": "Calls of read_fits: <b>FITS</b> & friends.", "unit": "calls", "labels": []},
        {"name": "solve", "kind": "timing", "description": "Time spent in the solver.",
         "unit": "seconds", "labels": []},
    ]
    assert data["versions"] == ["1.0", "2.0"]
    assert data["crash_kinds"] == ["ValueError", "astroflux.errors.Diverged"]
    breakdowns = {b["name"]: b for b in data["breakdowns"]}
    assert list(breakdowns) == [b.name for b in BREAKDOWNS]
    assert breakdowns["version"]["values"] == ["1.0", "2.0", OTHER, UNKNOWN]
    assert breakdowns["os"]["values"] == ["linux", "macos", "windows", "bsd", OTHER, UNKNOWN]
    assert breakdowns["os"]["description"] == "operating system family"
    assert breakdowns["ci"]["values"] == ["true", "false", UNKNOWN]


def test_any_spelling_of_the_name_finds_it_and_answers_are_cached(client):
    first = client.get("/api/v1/projects/ASTROFLUX/catalogue")
    assert first.json()["project"] == "astroflux"
    assert client.get("/api/v1/projects/astroflux/catalogue",
                      headers={"If-None-Match": first.headers["etag"]}).status_code == 304


@pytest.mark.parametrize("project", ["plain", "undeclared-pkg", "never-heard-of", "bad%20name!"])
def test_unknown_or_undeclared_projects_are_404(client, project):
    answer = client.get(f"/api/v1/projects/{project}/catalogue")
    assert answer.status_code == 404
    assert answer.json() == {"error": {"status": 404, "code": "not_found", "field": "project",
                                       "message": "no declared metrics for that project"}}
    page = client.get(f"/projects/{project}/catalogue")
    assert page.status_code == 404 and "<h1>Not found</h1>" in page.text


def test_a_project_without_versions_says_how_they_are_chosen(client):
    projects.add(client.app.state.stores, "noversions",
                 declaration=parse('[metrics.a]\nkind = "counter"\ndescription = "A."'))
    data = client.get("/api/v1/projects/noversions/catalogue").json()
    version = data["breakdowns"][0]
    assert version["name"] == "version" and version["values"] == []
    assert version["domain"] == "partition selection"
    assert "chosen with differential privacy" in client.get("/projects/noversions/catalogue").text


def test_the_page_lists_what_is_declared_with_descriptions(client):
    page = client.get("/projects/astroflux/catalogue")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "<h1>What astroflux collects</h1>" in text
    for name, description in (("io.read_fits", "Calls of read_fits: <b>FITS</b> & friends."),
                              ("io.format", "Files read, by format."),
                              ("solve", "Time spent in the solver.")):
        row = re.search(rf'<tr data-testid="metric-{re.escape(name)}">(.*?)</tr>', text, re.S)
        assert row and html.escape(description, quote=False) in row.group(1)
    assert "<b>FITS</b>" not in text  # autoescaped, as all of a project's text
    assert "<code>fits</code>, <code>hdf5</code>" in text
    assert "<code>astroflux.errors.Diverged</code>" in text
    for breakdown in BREAKDOWNS:
        row = re.search(rf'<tr data-testid="breakdown-{breakdown.name}">(.*?)</tr>', text, re.S)
        assert row and str(escape(breakdown.description)) in row.group(1)  # as Jinja escapes
    assert 'href="/projects/astroflux"' in text and 'href="/api/v1/projects/astroflux/catalogue"' in text
    assert page.headers["content-security-policy"]  # the site's security headers apply


def test_nothing_undeclared_appears(client):
    """astroflux's clients sent names it never declared: neither answer holds them."""
    api = client.get("/api/v1/projects/astroflux/catalogue").json()
    page = client.get("/projects/astroflux/catalogue").text
    for name in UNDECLARED + ("xls", "csv"):
        assert name not in _strings(api)
        assert f">{name}<" not in page and f"-{name}\"" not in page
    names = set(re.findall(r'data-testid="metric-([^"]+)"', page))
    assert names == {m["name"] for m in client.get("/api/v1/projects/astroflux/catalogue").json()["metrics"]} \
        == {"io.read_fits", "io.format", "solve"}


def test_an_update_shows_at_once(client):
    projects.declare(client.app.state.stores, "astroflux",
                     parse(METRICS.replace('"fits", "hdf5"', '"fits"')))
    data = client.get("/api/v1/projects/astroflux/catalogue").json()
    assert data["metrics"][0]["labels"] == ["fits"]
    assert "hdf5" not in client.get("/projects/astroflux/catalogue").text


def _strings(value) -> set[str]:
    """Every string in a JSON answer, keys included."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set(value).union(*(_strings(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value))
    return set()
