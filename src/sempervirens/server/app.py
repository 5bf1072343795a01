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
from ._errors import client_went_away, limited, log_unexpected, server_error, unexpected
from ._ingest import Ingest
from ._policy_headers import PolicyHeaders
from ._metrics import routes as metrics_routes
from ._projects import ProjectRegistry
from ..protocol.errors import ServerError, error_body
from .openapi import openapi

SUBMIT = "/submit/{project}/{ping_type}/{version}/{document_id}"
_SUBMIT_PREFIX = "/submit/"
_SUBMIT_PARAMS = ("project", "ping_type", "version", "document_id")


class Server(Starlette):
    """The application.  A POST to the ingestion route, the one request that comes by the
    thousand a second, goes straight to its endpoint through the two middlewares that
    concern it (security headers, RequestGuard): Starlette's routing and exception layers
    were a tenth of the CPU a ping cost.  Everything else goes through Starlette."""

    def __init__(self, *, ingest: Ingest, **kwargs) -> None:
        super().__init__(**kwargs)
        self._ingest_route = next(r for r in self.routes if getattr(r, "path", None) == SUBMIT)
        self._ingest = public.SecurityHeaders(RequestGuard(ingest, on_unexpected=log_unexpected))

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            params = _submit_params(scope["path"])
            if params is not None:
                # What Starlette's router would have set: its handlers read them.
                scope["app"] = self
                scope["route"] = self._ingest_route
                scope["path_params"] = params
                await self._ingest(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _submit_params(path: str) -> dict | None:
    """The path parameters of SUBMIT, as Starlette matches it (each part non-empty, no '/')."""
    if not path.startswith(_SUBMIT_PREFIX):
        return None
    parts = path[len(_SUBMIT_PREFIX):].split("/")
    if len(parts) != 4 or not all(parts):
        return None
    return dict(zip(_SUBMIT_PARAMS, parts))


def routes(config: dict, ingest: Ingest | None = None) -> list:
    """Every route the server answers, for these resolved settings."""
    return [
        # Server answers its POSTs directly; the route stays for 405 to other methods.
        Route(SUBMIT, ingest or Ingest(), methods=["POST"]),
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

    ingest = Ingest()
    app = Server(
        ingest=ingest,
        routes=routes(config, ingest),
        middleware=[Middleware(public.SecurityHeaders),
                    Middleware(RequestGuard, on_unexpected=log_unexpected),
                    Middleware(ReadDeadline, seconds=config["store_timeout"])],
        exception_handlers={ServerError: server_error, HTTPException: _http_error,
                            ClientDisconnect: client_went_away, Exception: unexpected},
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
    limited.log(logging.ERROR, message, message)


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
