"""How the server answers and logs errors: ServerError and the rest, as JSON (docs/protocol.md).

Starlette's exception handlers for every route (server/app.py), and the ingestion
path's own (server/_ingest.py), which calls the same functions.
"""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from ..protocol.errors import ServerError, error_body, render
from ._logging import RateLimitedLog, new_request_id

log = logging.getLogger("sempervirens.server")
limited = RateLimitedLog(log)


async def server_error(request: Request, error: ServerError) -> JSONResponse:
    response = await render(request, error)
    if error.status >= 500:
        request_id = new_request_id()
        response.headers["X-Request-Id"] = request_id
        # One line per answer, identical ones rate-limited (a store down under load).
        limited.log(logging.WARNING, f"{error.status} {error.code}",
                    "%d %s on %s %s (request %s)", error.status, error.code, request.method,
                    route_of(request.scope), request_id, extra={"request_id": request_id})
    return response


async def client_went_away(_request: Request, _error: ClientDisconnect) -> Response:
    log.debug("client disconnected before its request was read")
    return Response(status_code=400)  # nobody is left to read it


def log_unexpected(scope: dict, error: BaseException) -> str:
    """One line per unexpected error, the type only (messages may quote client data);
    request details, which hold the IP, are not logged.  The traceback at DEBUG."""
    request_id = new_request_id()
    route = route_of(scope)
    limited.log(logging.ERROR, f"500 {type(error).__name__} {route}",
                "500 internal_error on %s %s: %s (request %s)", scope.get("method"), route,
                type(error).__name__, request_id, extra={"request_id": request_id})
    log.debug("request %s failed", request_id, exc_info=error, extra={"request_id": request_id})
    return request_id


async def unexpected(request: Request, error: Exception) -> JSONResponse:
    request_id = log_unexpected(request.scope, error)
    body = error_body(500, "internal_error", f"internal server error (request {request_id})")
    return JSONResponse(body, status_code=500, headers={"X-Request-Id": request_id})


def route_of(scope: dict) -> str:
    """The route's path template (/submit/{project}/...): never the client's own values."""
    return getattr(scope.get("route"), "path", None) or "(no route)"
