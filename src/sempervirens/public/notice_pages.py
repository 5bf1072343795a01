"""The privacy policy's versions and the public notices, as pages, a feed and JSON.

    GET /privacy/policy                    the current version of the privacy policy
    GET /privacy/policy/v{N}               version N (every version stays reachable)
    GET /privacy/policy/v{N}/changes       what changed from version N-1 to N, line by line
    GET /notices, /notices/{id}            the public notices, newest first; one notice
    GET /notices.atom                      the same as an Atom feed
    GET /api/v1/notices                    the same as JSON
    GET /api/v1/privacy/policy             the versions (number, date, summary, material), JSON

The operator writes all of it (`sempervirens admin policy|notice`), in Markdown
(_markdown.py: a document's own HTML is shown as text, never run; an image, as a link).
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import _params, notices
from ._atom import feed
from ._markdown import markdown
from ._policy_diff import counts, line_diff
from ._respond import cached
from .pages import not_found, render


# The largest value the store's column holds (PostgreSQL's INTEGER for a policy's version,
# BIGINT for a notice's id): a path with a larger one names nothing, and the driver would
# refuse to send it (a 500).
LARGEST = {"version": 2**31 - 1, "notice_id": 2**63 - 1}


def _read(request: Request, reader, *args):
    return notices.read(request.app.state.stores.telemetry, reader, *args)


def _path_id(request: Request, name: str) -> int:
    """The path's integer `name`, or 0 (which no row has) when no row could have it."""
    value = request.path_params[name]
    return value if value <= LARGEST[name] else 0


def policy_page(request: Request) -> Response:
    version = _path_id(request, "version") if "version" in request.path_params else None
    shown = _read(request, notices.policy, version)
    if shown is None:
        return not_found(request)
    versions = _read(request, notices.policies)
    return render(request, "policy.html", policy=shown, body=markdown(shown["text"]),
                  versions=versions, current=versions[0]["version"],
                  contact=request.app.state.settings.get("contact"))


def policy_changes(request: Request) -> Response:
    version = _path_id(request, "version")
    new = _read(request, notices.policy, version)
    if new is None:
        return not_found(request)
    old = _read(request, notices.policy, version - 1) if version > 1 else None
    lines = line_diff(old["text"], new["text"]) if old else []
    added, removed = counts(lines)
    return render(request, "policy_changes.html", policy=new, previous=old, lines=lines,
                  added=added, removed=removed)


def notice_list(request: Request) -> Response:
    return render(request, "notices.html", notices=_read(request, notices.notices))


def notice_page(request: Request) -> Response:
    shown = _read(request, notices.notice, _path_id(request, "notice_id"))
    if shown is None:
        return not_found(request)
    corrected = _read(request, notices.notice, shown["corrects"]) if shown["corrects"] else None
    return render(request, "notice.html", notice=shown, body=markdown(shown["body"]),
                  corrected=corrected)


def atom(request: Request) -> Response:
    entries = _read(request, notices.notices)
    policy = _read(request, notices.policy, None)
    updated = max([policy["published_at"], *(n["posted_at"] for n in entries)])
    body = feed(_base_url(request), entries, updated, markdown)
    return _linked(request, body, "application/atom+xml; charset=utf-8")


def notices_api(request: Request) -> Response:
    _params.read(request)
    base = _base_url(request)
    rows = [{**row, "url": f"{base}/notices/{row['id']}"} for row in _read(request, notices.notices)]
    return _linked(request, orjson.dumps({"notices": rows}), "application/json")


def policy_api(request: Request) -> Response:
    _params.read(request)
    base = _base_url(request)
    rows = [{**row, "url": f"{base}/privacy/policy/v{row['version']}",
             "changes_url": f"{base}/privacy/policy/v{row['version']}/changes"
             if row["version"] > 1 else None}
            for row in _read(request, notices.policies)]
    return _linked(request, orjson.dumps({"current": rows[0]["version"], "versions": rows}),
                   "application/json")


def _base_url(request: Request) -> str:
    """The site's address: the `public_url` setting, else the request's own."""
    return (request.app.state.settings.get("public_url") or str(request.base_url)).rstrip("/")


def _linked(request: Request, body: bytes, media_type: str) -> Response:
    """An answer holding absolute links.  Built from the request's Host header (no
    `public_url`), it is kept by no cache: a cache that does not key on Host would give
    every reader the links of whoever asked first (Host: evil.example, a phishing page
    as the address of a security notice)."""
    trusted = request.app.state.settings.get("public_url")
    return cached(request, body, media_type, None if trusted else {"Cache-Control": "no-store"})


routes = [
    Route("/privacy/policy", policy_page, methods=["GET"]),
    Route("/privacy/policy/v{version:int}", policy_page, methods=["GET"]),
    Route("/privacy/policy/v{version:int}/changes", policy_changes, methods=["GET"]),
    Route("/notices", notice_list, methods=["GET"]),
    Route("/notices.atom", atom, methods=["GET"]),
    Route("/notices/{notice_id:int}", notice_page, methods=["GET"]),
    Route("/api/v1/notices", notices_api, methods=["GET"]),
    Route("/api/v1/privacy/policy", policy_api, methods=["GET"]),
]
