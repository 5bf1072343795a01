"""The ASGI application: ingestion, the public site and API, the private API and pages."""

from __future__ import annotations

import contextlib
import gc
import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import public
from .. import settings as settings_module
from ..admin import private_api as admin_api
from ..admin import private_pages
from ..cycle.background import start_periodic_aggregation
from ..release import serving_allowed
from ..protocol._identifiers import public_suffix_list
from ..monitoring import STORE_ERRORS, configure_logging
from ..store import Writer, open_stores
from ._client_ip import ClientAddress
from ._deadline import ReadDeadline
from ._guards import RequestGuard
from ._health import StoreProbe, health
from ._ingest import submit
from ._logging import RateLimitedLog, new_request_id
from ._policy_headers import PolicyHeaders
from ._metrics import counted
from ._metrics import routes as metrics_routes
from ._projects import ProjectRegistry
from ..protocol.errors import ServerError, error_body, render
from .openapi import openapi

log = logging.getLogger("sempervirens.server")
_limited = RateLimitedLog(log)


def routes(config: dict) -> list:
    """Every route the server answers, for these resolved settings."""
    return [
        Route("/submit/{project}/{ping_type}/{version}/{document_id}", counted(submit), methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        *metrics_routes(config["metrics_token"]),  # /metrics behind a bearer token, if one is set
        Route("/openapi.json", openapi_json, methods=["GET"]),
        *admin_api.routes(),  # /api/v1/private/... and /api/v1/transparency
        *private_pages.routes(),  # /private: the same, as pages behind a sign-in
        # Pages, /api/v1/projects..., /datasets, /static; none under --no-dp, whose
        # releases carry no noise (a private deployment).
        *(public.routes() if serving_allowed(config) else []),
    ]


def create_app(settings: dict | None = None, *, migrate: bool = True) -> Starlette:
    """The application for these settings (see sempervirens/settings.py)."""
    config = settings_module.resolve(**(settings or {}))
    # Pages, API, ingestion checks: every statement within store_timeout.  The cycle has
    # engines of its own, with the longer cycle_timeout (it reads whole days).
    stores = open_stores(config["data_dir"], config["database"], config["private_database"], migrate=migrate,
                         statement_timeout=config["store_timeout"])

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        app.state.writer.start()
        cycle_stores = open_stores(config["data_dir"], config["database"], config["private_database"],
                                   migrate=False, statement_timeout=config["cycle_timeout"])
        aggregation = start_periodic_aggregation(cycle_stores, config)  # its own thread
        # Listen once the writer process can commit: the first pings need not wait for
        # its imports (if it is not ready by then, pings get 503 until it is).
        await app.state.writer.ready(timeout=60)
        try:
            yield
        finally:
            aggregation.stop()
            await app.state.writer.stop()  # commit what was accepted before exiting
            stores.dispose()
            cycle_stores.dispose()

    app = Starlette(
        routes=routes(config),
        middleware=[Middleware(public.SecurityHeaders), Middleware(RequestGuard, on_unexpected=_log_unexpected),
                    Middleware(ReadDeadline, seconds=config["store_timeout"])],
        exception_handlers={ServerError: _server_error, HTTPException: _http_error,
                            ClientDisconnect: _client_went_away, Exception: _unexpected},
        lifespan=lifespan,
    )
    # No route ends in '/'; Starlette's answer to one that does was a 307 to an absolute URL
    # made of the request's Host and the scheme seen here (http:// behind a TLS proxy).
    app.router.redirect_slashes = False
    app.state.settings = config
    app.state.stores = stores
    app.state.writer = Writer(stores, batch_size=config["batch_size"], queue_size=config["queue_size"],
                              timeout=config["store_timeout"])
    app.state.store_probes = (StoreProbe("telemetry", stores.telemetry), StoreProbe("private", stores.private))
    app.state.log_store_error = _store_read_failed
    public_suffix_list()  # loaded now, not by the first ping that needs it
    app.state.client_address = ClientAddress(config["trusted_proxies"])
    app.state.registered_only = config["registered_projects_only"]
    app.state.projects = ProjectRegistry(stores.telemetry)
    app.state.policy_headers = PolicyHeaders(stores.telemetry)  # on every 202 (protocol/headers.py)
    return app


def _store_read_failed(message: str) -> None:
    STORE_ERRORS.labels("read").inc()
    _limited.log(logging.ERROR, message, message)


def app_from_environment() -> Starlette:
    """Factory for `uvicorn --factory` workers: settings come from SEMPERVIRENS_*."""
    if not logging.getLogger().handlers:  # a worker process of its own (workers > 1)
        config = settings_module.resolve()
        configure_logging(config["log_level"], config["log_format"])
    app = create_app(migrate=False)
    # Every ping allocates many short-lived containers; the default collector
    # thresholds rescan them (and every module object) thousands of times a
    # second.  Freezing what exists at start and collecting less often costs a
    # little memory and saves ~8% of the CPU per request (measured in-process).
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    return app


async def healthz(request: Request) -> JSONResponse:
    status, body = await health(request.app)
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


async def openapi_json(_request: Request) -> JSONResponse:
    return JSONResponse(openapi())


async def _http_error(request: Request, error: HTTPException) -> Response:
    if error.status_code == 404 and public.serves_pages(request):
        return public.not_found_page(request)  # the site's own unknown paths: a page
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    return JSONResponse(error_body(error.status_code, code, str(error.detail)),
                        status_code=error.status_code, headers=error.headers)


async def _server_error(request: Request, error: ServerError) -> JSONResponse:
    response = await render(request, error)
    if error.status >= 500:
        request_id = new_request_id()
        response.headers["X-Request-Id"] = request_id
        # One line per answer, identical ones rate-limited (a store down under load).
        _limited.log(logging.WARNING, f"{error.status} {error.code}",
                     "%d %s on %s %s (request %s)", error.status, error.code, request.method,
                     _route(request), request_id, extra={"request_id": request_id})
    return response


async def _client_went_away(_request: Request, _error: ClientDisconnect) -> Response:
    log.debug("client disconnected before its request was read")
    return Response(status_code=400)  # nobody is left to read it


def _log_unexpected(scope: dict, error: BaseException) -> str:
    """One line per unexpected error, the type only (messages may quote client data);
    request details, which hold the IP, are not logged.  The traceback at DEBUG."""
    request_id = new_request_id()
    route = _route_of(scope)
    _limited.log(logging.ERROR, f"500 {type(error).__name__} {route}",
                 "500 internal_error on %s %s: %s (request %s)", scope.get("method"), route,
                 type(error).__name__, request_id, extra={"request_id": request_id})
    log.debug("request %s failed", request_id, exc_info=error, extra={"request_id": request_id})
    return request_id


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    request_id = _log_unexpected(request.scope, error)
    return JSONResponse(error_body(500, "internal_error", f"internal server error (request {request_id})"),
                        status_code=500, headers={"X-Request-Id": request_id})


def _route_of(scope: dict) -> str:
    """The route's path template (/submit/{project}/...): never the client's own values."""
    return getattr(scope.get("route"), "path", None) or "(no route)"


def _route(request: Request) -> str:
    return _route_of(request.scope)
