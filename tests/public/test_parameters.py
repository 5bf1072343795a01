"""The API's query parameters, as an attacker would send them, against a released day on
SQLite and PostgreSQL: every bad one is a one-line JSON 400 that names it, never a 500,
and never an answer to a question other than the one asked."""

from __future__ import annotations

import re

import httpx
import pytest

from _services.server import start_server
from public_helpers import DAY, release_day, telemetry_url
from sempervirens.public._openapi import PATHS

PROJECT = "numpy"
API = f"/api/v1/projects/{PROJECT}"
# Every public API route, from the document the parameters are checked against: a new
# route is covered without being named here.
ROUTES = sorted(path.replace("{project}", PROJECT) for path in PATHS if path.startswith("/api/"))


@pytest.fixture(scope="module", params=("sqlite", "postgresql"))
def server(request, tmp_path_factory):
    """A server whose store holds one released day of numpy."""
    args: tuple[str, ...] = ()
    if request.param == "postgresql":
        cluster = request.getfixturevalue("postgres")
        args = ("--database", cluster.create_database("telemetry"),
                "--private-database", cluster.create_database("private"))
    running = start_server(tmp_path_factory.mktemp("parameters") / "data", extra_args=args)
    try:
        release_day(telemetry_url(running, args),
                    {"installs": [(PROJECT, DAY, "", "", 5000)],
                     "feature_users": [(PROJECT, DAY, "io.read_csv", "", 2000)]})
        yield running
    finally:
        running.stop()


def get(server, path: str, query: str = "") -> httpx.Response:
    return httpx.get(f"{server.url}{path}{'?' + query if query else ''}", timeout=10)


def refused(reply: httpx.Response, field: str, code: str = "invalid_request") -> str:
    assert reply.status_code == 400, (reply.status_code, reply.text[:300])
    error = reply.json()["error"]
    assert (error["status"], error["code"], error["field"]) == (400, code, field), error
    assert reply.text.isascii() and "\n" not in error["message"], reply.text
    return error["message"]


@pytest.mark.parametrize("value", ["a%00b", "io.read_csv%00", "io.read_csv%0A", "%1B%5B8m",
                                   "io.%E2%80%AEread", "%ED%A0%80", "IO.READ_CSV", "a" * 129,
                                   "io.read_csv'--"])
@pytest.mark.parametrize("route", ["features", "timings"])
def test_a_metric_that_no_declaration_could_name_is_refused(server, route, value):
    """A NUL reached PostgreSQL's query (a 500); any other non-name reached the store."""
    message = refused(get(server, f"{API}/{route}", f"metric={value}"), "metric")
    assert "lower-case dotted snake case" in message


def test_a_declared_metric_and_an_empty_one_still_answer(server):
    one = get(server, f"{API}/features", "metric=io.read_csv").json()
    assert one["metric"] == "io.read_csv" and {r["metric"] for r in one["rows"]} == {"io.read_csv"}
    every = get(server, f"{API}/features", "metric=&from=&to=").json()
    assert every["metric"] is None and every["from"] is None and every["rows"]


@pytest.mark.parametrize("route", ROUTES)
def test_a_parameter_the_route_does_not_take_is_refused(server, route):
    """?form= (a typo of from), a breakdown on features, ?interval= on the ledger: each
    answered the whole, unfiltered, as if it had been understood."""
    takes = {p["name"] for p in PATHS[route.replace(PROJECT, "{project}")]["get"]
             .get("parameters", []) if p["in"] == "query"}
    for name in ("form", "breakdown", "interval", "project", "limit", "_"):
        if name not in takes:
            message = refused(get(server, route, f"{name}=1"), name, "unknown_parameter")
            assert message.startswith(f"unknown parameter '{name}': this route takes")


def test_an_unknown_name_is_shown_escaped_and_short(server):
    message = refused(get(server, f"{API}/active-installs", "%00%E2%80%AE" + "x" * 500 + "=1"),
                      "\\x00\\u202e" + "x" * 38, "unknown_parameter")
    assert len(message) < 200


@pytest.mark.parametrize("query, field", [
    ("interval=day&interval=week", "interval"), ("format=csv&format=json", "format"),
    ("breakdown=os&breakdown=", "breakdown"), ("from=2026-11-01&from=2026-11-03", "from"),
])
def test_a_parameter_given_twice_is_refused(server, query, field):
    """It was read as its last value: a cache or a log reading the first saw another query."""
    assert "more than once" in refused(get(server, f"{API}/active-installs", query), field)


@pytest.mark.parametrize("value", ["20261102", "2026-W45-1", "2026-306", "2026-11-02T00:00",
                                   "2026-11-02%00", "+2026-11-02", "0000-01-01", "10000-01-01",
                                   "2026-02-30", "2026-13-01", "%D9%A2026-11-02"])
def test_a_date_is_yyyy_mm_dd_and_nothing_else(server, value):
    """Python reads 20261102 and 2026-W45-1 as dates; the API says YYYY-MM-DD."""
    for route in (f"{API}/active-installs", "/api/v1/ecosystem"):
        assert refused(get(server, route, f"from={value}"), "from") == \
            "from must be a date, YYYY-MM-DD"


def test_every_period_of_the_widest_range_is_one_answer(server):
    answer = get(server, f"{API}/active-installs", "from=0001-01-01&to=9999-12-31").json()
    assert [r["period_start"] for r in answer["rows"]] == [DAY.isoformat()]


def test_every_route_answers_without_parameters(server):
    for route in ROUTES:
        reply = get(server, route)
        assert reply.status_code == (404 if route.endswith("/catalogue") else 200), route
        assert re.match(r"application/json", reply.headers["content-type"]), route
