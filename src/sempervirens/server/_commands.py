"""Operator commands of the server layer: `sempervirens serve`."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import ssl
import sys
import tempfile

from .. import redact, settings
from ..cycle._commands import CYCLE_SETTINGS

# The server's own settings, then every setting of the cycle it runs (one configuration).
SERVE_SETTINGS = tuple(dict.fromkeys((
    "host", "port", "data_dir", "database", "private_database", "tls_cert", "tls_key",
    "trusted_proxies", "registered_projects_only", "workers", "queue_size", "batch_size", "log_level",
    "releases_dir", "privacy_doc", "contact", "public_url", "public_max_age",
    "aggregate_interval_seconds", "store_timeout", "max_connections",
    "max_connections_per_address", "header_timeout", "body_timeout", "keep_alive_timeout",
    "cycle_timeout", "metrics_port", "metrics_token", "log_format", "private_min_users",
    *CYCLE_SETTINGS)))


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve", help="run the collection server (and its aggregation cycle)",
        description="Run the collection server: ingestion, the public pages, API and datasets, "
                    "the private API, and every --aggregate-interval-seconds the cycle "
                    "(seal, release, private aggregates, deletions, purge) with exactly these "
                    "settings. Creates the stores when missing (as `init`).",
        epilog="example: sempervirens serve --config /etc/sempervirens/sempervirens.toml")
    settings.add_arguments(parser, *SERVE_SETTINGS)
    parser.set_defaults(func=serve)


def check(config: dict) -> str | None:
    """What the command line's checks of every setting (settings.check) cannot see:
    whether the TLS certificate and key match.  One line; None if they do."""
    if config["tls_cert"]:
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(config["tls_cert"],
                                                                                config["tls_key"])
        except (ssl.SSLError, OSError, ValueError) as error:
            return f"--tls-cert/--tls-key: not a matching PEM certificate and key ({error.__class__.__name__})"
    return None


def _engine(config: dict) -> str | None:
    """The aggregation cycle's engine, checked now rather than at its first due job."""
    if not config["aggregate_interval_seconds"]:
        return None
    from ..aggregate.engine import EngineError, check_engine

    try:
        check_engine(config)
    except EngineError as error:
        return f"--engine {config['engine']}: {error}"
    return None


def _open_stores(config: dict) -> str | None:
    """Reach and migrate both stores once, before any worker starts; a problem as one line."""
    from ..store import open_stores

    from ..admin._secret import load_key
    from ..admin.tombstones import servers_key

    try:
        stores = open_stores(config["data_dir"], config["database"], config["private_database"])
    except Exception as error:  # noqa: BLE001 - said in one line; URLs (passwords) are not shown
        first = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
        return f"cannot open the stores ({type(error).__name__}: {first})"
    try:
        key = load_key(config)  # made now if missing, so that no request has to
    except (OSError, SystemExit) as error:
        stores.dispose()
        return f"the secret key in --data-dir cannot be used: {error}"
    try:
        if servers_key(stores.private, key):  # deletions made elsewhere are checked against it
            print("sempervirens serve: the secret key is not the one the servers last started "
                  "with: tombstones made under the other key no longer match (docs/operations.md, "
                  "'The secret key')", file=sys.stderr)
    finally:
        stores.dispose()
    return None


def export(config: dict, args: argparse.Namespace | None, environ) -> None:
    """Put the resolved settings in the environment: the workers, and the cycle inside
    them, read theirs from it (one source for 1 or N workers), so that they use exactly
    what `serve` resolved, whether it came from a flag, the environment or the file."""
    path, named = settings.config_path(args, environ)
    if named or os.path.exists(path):
        environ[settings.CONFIG_ENV] = os.path.abspath(path)
    for name, value in config.items():
        if value is not None:
            environ[settings.SETTINGS[name].env_var] = (
                ",".join(value) if isinstance(value, tuple) else str(value))


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    config = settings.resolve(args)  # checked by the command line (settings.check) already
    problem = check(config) or _engine(config) or _open_stores(config)
    if problem:
        print(redact.line(f"sempervirens serve: {problem}"), file=sys.stderr)
        return 2
    from ..monitoring import configure_logging, serve_metrics
    from ..store._existing import describe

    configure_logging(config["log_level"], config["log_format"])
    log = logging.getLogger("sempervirens.server")
    log.info("stores: telemetry %s, private %s", *describe(config))  # a JSON line when asked
    if config["workers"] > 1 and (config["metrics_port"] or config["metrics_token"]):
        # Each worker writes its numbers here; a scrape sums them (monitoring/_metrics.py).
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="sempervirens-metrics-")
    if config["metrics_port"]:
        try:
            serve_metrics(config["host"], config["metrics_port"])
        except OSError as error:
            print(f"sempervirens serve: --metrics-port {config['metrics_port']}: cannot listen "
                  f"({error.strerror or error})", file=sys.stderr)
            return 2
    export(config, args, os.environ)
    scheme = "https" if config["tls_cert"] else "http"
    log.info("serving on %s://%s:%s", scheme, config["host"], config["port"])
    try:
        _run(uvicorn, config)
    finally:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").startswith(tempfile.gettempdir()):
            shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
    return 0


def _run(uvicorn, config: dict) -> None:
    uvicorn.run(
        "sempervirens.server.app:app_from_environment", factory=True,
        host=config["host"], port=config["port"], workers=config["workers"],
        log_level=config["log_level"].lower(),
        # JSON: uvicorn's own lines go through the root logger's JSON handler too.
        **({"log_config": None} if config["log_format"] == "json" else {}),
        access_log=False,  # uvicorn's access log holds client IPs: the private store keeps them
        proxy_headers=False,  # X-Forwarded-For is judged by our own trusted-proxy rule
        ws="none",  # no WebSocket route; uvicorn's WebSocket protocol logs addresses at INFO
        server_header=False,
        timeout_graceful_shutdown=10,
        # HTTP-level limits (sempervirens/server/_http.py): head size and count,
        # request line, header and body deadlines, open connections.
        # With TLS, its layer comes from the protocol too (server/_tls.py): the limits
        # then hold from the first byte, not from the end of the handshake.
        http="sempervirens.server." + ("_tls:LimitedTlsProtocol" if config["tls_cert"]
                                       else "_http:LimitedHttpToolsProtocol"),
        timeout_keep_alive=config["keep_alive_timeout"],
    )
