"""Answers of the public API: JSON or CSV, with an ETag and a Cache-Control header.

The public tables change once per aggregation cycle, so answers may be cached for
a while (the `public_max_age` setting); the ETag lets a client revalidate cheaply.
"""

from __future__ import annotations

import csv
import hashlib
import io

import orjson
from starlette.requests import Request
from starlette.responses import Response


def cached(request: Request, body: bytes, media_type: str, headers: dict | None = None) -> Response:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    max_age = request.app.state.settings.get("public_max_age", 300)
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age}",
               "Vary": "Accept-Encoding", **(headers or {})}
    if _matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def _matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match by weak comparison (RFC 9110, 13.1.2), `*` matching any: a proxy that
    compresses an answer marks its ETag weak (W/"..."), and its clients send that back."""
    tags = [tag.strip() for tag in if_none_match.split(",")]
    return "*" in tags or etag in (tag.removeprefix("W/") for tag in tags)


def to_csv(rows: list[dict], columns: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def table(request: Request, payload: dict, rows: list[dict], columns: list[str],
          filename: str) -> Response:
    """JSON ({...payload, "columns", "rows"}) by default, CSV of the rows with ?format=csv."""
    if request.query_params.get("format") == "csv":
        return cached(request, to_csv(rows, columns), "text/csv; charset=utf-8",
                      {"Content-Disposition": f'attachment; filename="{filename}.csv"'})
    body = orjson.dumps({**payload, "columns": columns, "rows": rows})
    return cached(request, body, "application/json")
