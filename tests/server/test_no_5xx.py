"""No input makes the real server answer 5xx: properties generated from the protocol's description.

Pings: a valid ping with one field (any field of any ping type, from the OpenAPI
schemas) replaced by a value from every Unicode category, at and around every limit.
Routes: every GET route of /openapi.json (and the private pages) with Unicode path
parameters, query strings, cookies and headers.  Every answer is < 500, and every
error has the documented shape.
"""

from __future__ import annotations

import copy
import json
import re
import urllib.parse

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _services.server import start_server
from pings import new_id, usage
from sempervirens.protocol import (
    MAX_BUCKET,
    MAX_COUNT,
    MAX_LABEL_LENGTH,
    MAX_NAME_LENGTH,
    MAX_STRING_LENGTH,
    PING_TYPES,
)
from sempervirens.server.app import routes
from sempervirens.server.openapi import PING_SCHEMAS, openapi
from sempervirens.settings import resolve

pytestmark = pytest.mark.slow

CATEGORIES = ("Lu", "Ll", "Lo", "Nd", "Nl", "No", "Pc", "Pd", "Po", "Sm", "Sc", "So", "Zs", "Zl", "Cc", "Cf",
              "Co", "Mn")
unicode_text = st.text(alphabet=st.characters(categories=CATEGORIES), max_size=40)
LIMITS = (MAX_NAME_LENGTH, MAX_LABEL_LENGTH, MAX_STRING_LENGTH, 2 * MAX_STRING_LENGTH)
around_limits = st.sampled_from(LIMITS).flatmap(
    lambda limit: st.sampled_from([limit - 1, limit, limit + 1])).flatmap(
    lambda size: st.sampled_from(["a", "1", ".", "\u00e9", "\U0001F600", "\x00", "-"]).map(lambda c: c * size))
integers = st.sampled_from([-1, 0, 1, 2**31 - 1, 2**31, MAX_COUNT, MAX_COUNT + 1, 2**63, 2**64, -(2**63) - 1])
timestamps = st.sampled_from([
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59.999999Z", "1970-01-01T00:00:00Z",
    "2099-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z",
    "\u0662\u0660\u0662\u0666-01-01T00:00:00Z", "2026-01-01", "2026-01-01T00:00:00",
])
json_leaves = st.one_of(st.none(), st.booleans(), integers, st.floats(allow_nan=False), unicode_text, around_limits,
                        timestamps)
values = st.recursive(json_leaves, lambda children: st.lists(children, max_size=3)
                      | st.dictionaries(unicode_text | around_limits, children, max_size=3), max_leaves=8)


def _field_paths(schema: dict, prefix: tuple = ()) -> list[tuple]:
    paths = []
    for name, sub in schema.get("properties", {}).items():
        paths.append((*prefix, name))
        paths += _field_paths(sub, (*prefix, name))
    return paths


FIELDS = {ping_type: _field_paths(PING_SCHEMAS[ping_type]) for ping_type in PING_TYPES}
BASE = {
    "usage": usage(),
    "crash": usage(crash={"exception_type": "ValueError", "traceback": "Traceback ..."}),
    "opt-out": {"project_version": "1.0"},
    "deletion-request": {"client_id": new_id()},
}
# Keys of the dictionaries the schema leaves open: metric names, labels, bucket keys, reasons.
open_keys = st.one_of(unicode_text, around_limits, st.integers(0, MAX_BUCKET + 2).map(str),
                      st.sampled_from(["\u00b2", "\u0663", "\uff11", "01", "io.read_csv", "x.example.org"]))


@st.composite
def pings(draw):
    ping_type = draw(st.sampled_from(PING_TYPES))
    body = copy.deepcopy(BASE[ping_type])
    path = draw(st.sampled_from(FIELDS[ping_type]))
    target = body
    for step in path[:-1]:
        target = target.setdefault(step, {}) if isinstance(target.get(step, {}), dict) else {}
    if draw(st.booleans()):
        target[path[-1]] = draw(values)
    else:  # an open dictionary (counters, labels, buckets, dropped) with odd keys and values
        target[path[-1]] = draw(st.dictionaries(open_keys, values | integers, min_size=1, max_size=3))
    return ping_type, body


@pytest.fixture(scope="module")
def real_server(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("no-5xx"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client():
    with httpx.Client(timeout=30) as shared:
        yield shared


# Header values a client can send at all (no CR, LF or other controls), still any script.
header_text = st.text(alphabet=st.characters(categories=("Lu", "Ll", "Lo", "Nd", "No", "Po", "Sm", "So", "Zs")),
                      max_size=30)


def _check(reply: httpx.Response) -> None:
    assert reply.status_code < 500, (reply.status_code, reply.text[:500])
    if reply.status_code >= 400 and reply.headers.get("content-type", "").startswith("application/json"):
        error = reply.json()["error"]
        assert error["status"] == reply.status_code and error["code"] and error["message"]


@settings(max_examples=120, suppress_health_check=list(HealthCheck), derandomize=True)
@given(ping=pings())
def test_no_ping_gets_a_5xx(real_server, client, ping):
    ping_type, body = ping
    data = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    reply = client.post(f"{real_server.url}/submit/numpy/{ping_type}/1/{new_id()}", content=data,
                            headers={"Content-Type": "application/json"})
    _check(reply)
    if reply.status_code == 400:
        assert reply.json()["error"]["code"] in {"invalid_field", "missing_field", "unknown_field",
                                                 "forbidden_field", "too_many_metrics", "malformed_json",
                                                 "unstorable"}


def _app_routes() -> list:
    """Every route the server answers with its default settings, pages included."""
    return routes(resolve())


# Every GET route of the application, from its own route lists: a new page or API route
# is fuzzed without anyone adding it here.
GET_ROUTES = sorted({route.path for route in _app_routes() if "GET" in (getattr(route, "methods", None) or ())})
_PLACEHOLDER = re.compile(r"\{[^}]+\}")


def test_every_api_route_is_in_the_openapi_document():
    documented = set(openapi()["paths"])
    served = {_PLACEHOLDER.sub(lambda m: "{%s}" % m.group(0)[1:-1].split(":")[0], route.path)
              for route in _app_routes() if route.path.startswith("/api/")}
    assert served - documented == set()
ascii_token = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=";,\"\\"),
                      min_size=1, max_size=20)


@settings(max_examples=120, suppress_health_check=list(HealthCheck), derandomize=True)
@given(route=st.sampled_from(GET_ROUTES), parameter=unicode_text | around_limits | timestamps,
       query=st.dictionaries(st.sampled_from(["format", "interval", "from", "to", "start", "end", "breakdown",
                                              "metric", "purpose", "month", "before", "limit", "project", "next"]),
                             unicode_text | timestamps | integers.map(str), max_size=4),
       cookie=st.sampled_from(["sv_session", "sv_signin", "__Host-sv_session"]),
       cookie_value=header_text | ascii_token, purpose=header_text)
def test_no_route_gets_a_5xx(real_server, client, route, parameter, query, cookie, cookie_value, purpose):
    path = _PLACEHOLDER.sub(lambda _: urllib.parse.quote(parameter or "x", safe=""), route)
    cookie_value, purpose = cookie_value.strip() or "x", purpose.strip() or "x"  # h11 refuses blank values
    headers = {"Cookie": f"{cookie}={cookie_value}".encode("utf-8", "surrogatepass"),
               "X-Purpose": purpose.encode("utf-8", "surrogatepass"), "Authorization": "Bearer \u00e9x".encode()}
    reply = client.get(real_server.url + path, params=query, headers=headers)
    _check(reply)


@pytest.mark.parametrize("cookie", ["sv_session=abcdefghijkl.123.n.\u00e9\u00e9", "sv_session=abcdefghijkl.\u00b2.n.m",
                                    "sv_signin=" + "\u00e9" * 20])
def test_non_ascii_cookies_are_a_400(real_server, client, cookie):
    for method in ("GET", "POST"):
        reply = client.request(method, real_server.url + "/private", headers={"Cookie": cookie.encode()},
                               data={"csrf": "x", "token": "y"} if method == "POST" else None)
        assert reply.status_code == 400
        assert reply.json()["error"] == {"status": 400, "code": "invalid_cookie", "message": "cookies must be ASCII",
                                         "field": "Cookie"}


def test_a_non_ascii_form_token_is_a_400(real_server, client):
    for path in ("/private", "/private/sign-out"):
        reply = client.post(real_server.url + path, headers={"Cookie": "sv_signin=" + "a" * 24},
                            data={"csrf": "\u00e9\u00e9", "token": "y"})
        assert reply.status_code == 400 and reply.json()["error"]["field"] == "csrf"
    many = client.post(real_server.url + "/private", data={f"f{i}": "x" for i in range(20)})
    assert many.status_code == 400 and many.json()["error"]["status"] == 400
