"""Hostile input on every route the server has (enumerated, so new routes are covered):
SQL injection in every path and query parameter, path traversal towards the stores.
Each gets a 4xx (or is ignored), never a 5xx, and changes nothing in either store."""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
import pytest
from starlette.routing import Mount, Route

from _services.dump import dump_store, store_urls_of
from _services.server import start_server
from admin_helpers import bearer, make_token, seed_private_aggregates
from pings import new_id, post, usage
from sempervirens.server.app import create_app

pytestmark = pytest.mark.slow

PAYLOADS = [
    "' OR '1'='1",
    "numpy'; DROP TABLE pings; --",
    "1 UNION SELECT ip FROM access_log",
    '") OR 1=1 --',
    "numpy%27%20OR%201%3D1",
    "1; DELETE FROM api_tokens",
]
# Query parameters that public and private routes read, plus those the OpenAPI document declares.
QUERY_PARAMETERS = {"project", "interval", "breakdown", "format", "start", "end", "month", "before",
                    "limit", "purpose", "metric", "label", "granularity", "version", "period", "q", "page"}
# Parameters whose bad value must be refused (400), not ignored.
VALIDATED = {"interval", "start", "end", "month", "before", "limit", "project", "breakdown", "format"}
SQL_ERROR = re.compile(r"syntax error|sqlite3\.|psycopg|OperationalError|ProgrammingError|Traceback \(most recent")
SAMPLE = {"project": "numpy", "ping_type": "usage", "version": "1", "document_id": "{new_id}"}


def _routes(routes, prefix: str = ""):
    for route in routes:
        if isinstance(route, Mount):
            yield from _routes(route.routes or [], prefix + route.path)
        elif isinstance(route, Route):
            yield prefix + route.path, sorted(route.methods or {"GET"})


@pytest.fixture(scope="module")
def app_routes(tmp_path_factory):
    app = create_app({"data_dir": str(tmp_path_factory.mktemp("routes"))})
    return list(_routes(app.routes))


@pytest.fixture
def hostile_server(tmp_path):
    # SQLite: every query is bound the same way on PostgreSQL (deletion runs on both).
    running = start_server(tmp_path / "data")
    seed_private_aggregates(running, "numpy")
    with httpx.Client(timeout=10) as client:
        assert post(client, running.url, usage()).status_code == 202
    yield running
    running.stop()


def _snapshot(server) -> tuple[str, str]:
    telemetry_url, private_url = store_urls_of(server)
    private = "\n".join(line for line in dump_store(private_url).splitlines() if not line.startswith("audit_log:"))
    return dump_store(telemetry_url), private


def _fill(path: str, injected: str | None = None, payload: str = "") -> str:
    def value(match):
        name = match.group(1).split(":")[0]
        if name == injected:
            return quote(payload, safe="")
        return new_id() if name == "document_id" else SAMPLE.get(name, "numpy")
    return re.sub(r"\{([^}]+)\}", value, path)


def _request(client, method: str, url: str, headers: dict) -> httpx.Response:
    if method == "POST":
        return client.post(url, json=usage(), headers=headers)
    return client.request(method, url, headers=headers)


def test_sql_injection_in_every_parameter_of_every_route(hostile_server, app_routes):
    server = hostile_server
    token = make_token(server, "admin")
    headers = bearer(token)
    before = _snapshot(server)
    assert "numpy" in before[0] and "Stanford" in before[1]
    checked = 0
    with httpx.Client(timeout=10) as client:
        openapi = client.get(server.url + "/openapi.json").json()
        for path, methods in app_routes:
            declared = {p["name"] for operation in openapi.get("paths", {}).get(path, {}).values()
                        if isinstance(operation, dict) for p in operation.get("parameters", [])
                        if p.get("in") == "query"}
            for method in (m for m in methods if m != "HEAD"):
                for name in re.findall(r"\{([^}:]+)", path):
                    for payload in PAYLOADS:
                        reply = _request(client, method, server.url + _fill(path, name, payload), headers)
                        assert 400 <= reply.status_code < 500, (method, path, name, payload, reply.text[:300])
                        assert not SQL_ERROR.search(reply.text), reply.text[:300]
                        checked += 1
                if method != "GET":
                    continue
                names = sorted(QUERY_PARAMETERS | declared)
                for payload in PAYLOADS:
                    # Every parameter at once (a handler reading any of them meets the payload),
                    # then one at a time on the private routes, each of which must refuse it.
                    queries = [names] + ([[n] for n in names if n in VALIDATED and _reads(path, n)]
                                         if path.startswith("/api/v1/private") else [])
                    for query in queries:
                        url = server.url + _fill(path) + "?" + "&".join(
                            f"{n}={quote(payload, safe='')}" for n in query)
                        reply = client.get(url, headers=headers)
                        assert reply.status_code < 500, (path, query, payload, reply.text[:300])
                        assert not SQL_ERROR.search(reply.text), reply.text[:300]
                        if len(query) == 1:
                            assert reply.status_code == 400, (path, query, payload)
                        checked += 1
    assert checked > 150
    assert _snapshot(server) == before  # nothing dropped, deleted or added (the audit log aside)


def _reads(path: str, name: str) -> bool:
    """Whether this private route reads this query parameter."""
    used = {"/api/v1/private/projects/{project}/institutions": {"interval", "start", "end"},
            "/api/v1/private/anomalies": {"project"},
            "/api/v1/private/audit": {"month", "before", "limit"}}
    return name in used.get(path, {name})


TRAVERSALS = ["../private.db", "..%2fprivate.db", "..%2f..%2fprivate.db", "%2e%2e/%2e%2e/private.db",
              "%2e%2e%2f%2e%2e%2fsecret.key", "....//....//private.db", "..\\..\\private.db",
              "%252e%252e%252fprivate.db", "/etc/passwd", "..%00/private.db", "data/private.db"]


def test_path_traversal_never_serves_a_store_file(server, app_routes):
    """Every route prefix (dataset downloads included, when the server has them) with traversals."""
    prefixes = {"/", "/datasets/", "/static/"}
    for path, _ in app_routes:
        if "{" in path:
            prefixes.add(path.split("{", 1)[0])
    with httpx.Client(timeout=10) as client:
        assert post(client, server.url, usage()).status_code == 202  # the key file now exists
        key = (server.data_dir / "secret.key").read_text().strip()
        for prefix in sorted(prefixes):
            for traversal in TRAVERSALS:
                reply = client.get(server.url + prefix + traversal)
                assert reply.status_code in (400, 401, 403, 404, 405), (prefix, traversal, reply.status_code)
                assert b"SQLite format 3" not in reply.content and b"root:x:0" not in reply.content
                assert key not in reply.text
