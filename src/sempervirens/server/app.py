"""The ASGI application: ingestion, the public site and API, the private API and pages."""

from __future__ import annotations

import contextlib
import gc
import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .. import public
from .. import settings as settings_module
from ..admin import private_api as admin_api
from ..admin import private_pages
from ..cycle.background import start_periodic_aggregation
from ..store import Writer, open_stores
from ._client_ip import ClientAddress
from ._ingest import submit
from ._projects import ProjectRegistry
from .errors import ServerError, error_body, render
from .openapi import openapi

log = logging.getLogger("sempervirens.server")


def create_app(settings: dict | None = None, *, migrate: bool = True) -> Starlette:
    """The application for these settings (see sempervirens/settings.py)."""
    config = settings_module.resolve(**(settings or {}))
    stores = open_stores(config["data_dir"], config["database"], config["private_database"], migrate=migrate)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        app.state.writer.start()
        aggregation = start_periodic_aggregation(stores, config)  # its own thread
        try:
            yield
        finally:
            aggregation.stop()
            await app.state.writer.stop()  # commit what was accepted before exiting
            stores.dispose()

    app = Starlette(
        routes=[
            Route("/submit/{project}/{ping_type}/{version}/{document_id}", submit, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/openapi.json", openapi_json, methods=["GET"]),
            *admin_api.routes(),  # /api/v1/private/... and /api/v1/transparency
            *private_pages.routes(),  # /private: the same, as pages behind a sign-in
            *public.routes(),  # pages, /api/v1/projects..., /datasets, /static
        ],
        middleware=[Middleware(public.SecurityHeaders)],
        exception_handlers={ServerError: render, HTTPException: _http_error, Exception: _unexpected},
        lifespan=lifespan,
    )
    app.state.settings = config
    app.state.stores = stores
    app.state.writer = Writer(stores, batch_size=config["batch_size"], queue_size=config["queue_size"])
    app.state.client_address = ClientAddress(config["trusted_proxies"])
    app.state.registered_only = config["registered_projects_only"]
    app.state.projects = ProjectRegistry(stores.telemetry)
    return app


def app_from_environment() -> Starlette:
    """Factory for `uvicorn --factory` workers: settings come from SEMPERVIRENS_*."""
    app = create_app(migrate=False)
    # Every ping allocates many short-lived containers; the default collector
    # thresholds rescan them (and every module object) thousands of times a
    # second.  Freezing what exists at start and collecting less often costs a
    # little memory and saves ~8% of the CPU per request (measured in-process).
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    return app


async def healthz(request: Request) -> JSONResponse:
    writer = request.app.state.writer
    healthy = writer.running
    return JSONResponse({"status": "ok" if healthy else "writer stopped", "waiting": writer.waiting},
                        status_code=200 if healthy else 503, headers={"Cache-Control": "no-store"})


async def openapi_json(_request: Request) -> JSONResponse:
    return JSONResponse(openapi())


async def _http_error(_request: Request, error: HTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    return JSONResponse(error_body(error.status_code, code, str(error.detail)),
                        status_code=error.status_code, headers=error.headers)


async def _unexpected(_request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error")  # request details, which hold the IP, are not logged
    return JSONResponse(error_body(500, "internal_error", "internal server error"), status_code=500)
