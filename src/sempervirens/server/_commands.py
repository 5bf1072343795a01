"""Operator commands of the server layer: `sempervirens serve`."""

from __future__ import annotations

import argparse
import logging
import os

from .. import settings

SERVE_SETTINGS = (
    "host", "port", "data_dir", "database", "private_database", "tls_cert", "tls_key",
    "trusted_proxies", "registered_projects_only", "workers", "queue_size", "batch_size", "log_level",
    "releases_dir", "privacy_doc", "public_max_age",
    "store_timeout", "max_connections", "header_timeout", "body_timeout", "keep_alive_timeout",
)


def register(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="run the collection server",
                                   description="Run the collection server (ingestion, API, pages).")
    settings.add_arguments(parser, *SERVE_SETTINGS)
    parser.set_defaults(func=serve)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ..store import open_stores

    config = settings.resolve(args)
    if bool(config["tls_cert"]) != bool(config["tls_key"]):
        raise SystemExit("sempervirens serve: --tls-cert and --tls-key go together")
    level = config["log_level"].upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Migrate once here, before any worker starts.
    open_stores(config["data_dir"], config["database"], config["private_database"]).dispose()
    # Workers read their settings from the environment (one source for 1 or N workers).
    for name, value in config.items():
        if value is not None:
            os.environ[settings.SETTINGS[name].env_var] = (
                ",".join(value) if isinstance(value, tuple) else str(value))
    scheme = "https" if config["tls_cert"] else "http"
    logging.getLogger("sempervirens.server").info(
        "serving on %s://%s:%s", scheme, config["host"], config["port"])
    uvicorn.run(
        "sempervirens.server.app:app_from_environment", factory=True,
        host=config["host"], port=config["port"], workers=config["workers"],
        ssl_certfile=config["tls_cert"], ssl_keyfile=config["tls_key"],
        log_level=config["log_level"].lower(),
        access_log=False,  # uvicorn's access log holds client IPs: the private store keeps them
        proxy_headers=False,  # X-Forwarded-For is judged by our own trusted-proxy rule
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    return 0
