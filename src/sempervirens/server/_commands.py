"""Operator commands of the server layer: `sempervirens serve`."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import shutil
import ssl
import sys
import tempfile

from .. import settings
from ..cycle._commands import CYCLE_SETTINGS
from ..monitoring._logs import LOG_FORMATS

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

# The server's own settings, then every setting of the cycle it runs (one configuration).
SERVE_SETTINGS = tuple(dict.fromkeys((
    "host", "port", "data_dir", "database", "private_database", "tls_cert", "tls_key",
    "trusted_proxies", "registered_projects_only", "workers", "queue_size", "batch_size", "log_level",
    "releases_dir", "privacy_doc", "public_max_age", "aggregate_interval_seconds",
    "store_timeout", "max_connections", "header_timeout", "body_timeout", "keep_alive_timeout",
    "cycle_timeout", "metrics_port", "metrics_token", "log_format", *CYCLE_SETTINGS)))


def register(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="run the collection server",
                                   description="Run the collection server (ingestion, API, pages).")
    settings.add_arguments(parser, *SERVE_SETTINGS)
    parser.set_defaults(func=serve)


def check(config: dict) -> str | None:
    """The first problem with these settings, as one line naming the setting; None if none.

    Everything that can be checked before listening is checked here, so that a
    mistake stops `serve` at once with one clear line rather than in a request.
    """
    if not 1 <= config["port"] <= 65535:
        return f"--port {config['port']}: must be from 1 to 65535"
    if str(config["log_level"]).lower() not in LOG_LEVELS:
        return f"--log-level {config['log_level']}: must be one of {', '.join(LOG_LEVELS)}"
    if config["log_format"] not in LOG_FORMATS:
        return f"--log-format {config['log_format']}: must be one of {', '.join(LOG_FORMATS)}"
    if config["metrics_port"] is not None and not (
            1 <= config["metrics_port"] <= 65535 and config["metrics_port"] != config["port"]):
        return f"--metrics-port {config['metrics_port']}: must be from 1 to 65535, not --port"
    if config["metrics_token"] is not None and len(config["metrics_token"]) < 16:
        return "--metrics-token: must be at least 16 characters"
    for name in ("workers", "queue_size", "batch_size", "max_connections"):
        if config[name] < 1:
            return f"--{name.replace('_', '-')} {config[name]}: must be at least 1"
    for name in ("store_timeout", "cycle_timeout", "header_timeout", "body_timeout", "keep_alive_timeout"):
        if not config[name] > 0:
            return f"--{name.replace('_', '-')} {config[name]}: must be a positive number of seconds"
    if config["public_max_age"] < 0:
        return f"--public-max-age {config['public_max_age']}: must not be negative"
    for proxy in config["trusted_proxies"]:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            return f"--trusted-proxies: {proxy!r} is not an IP address or network"
    if config["secret_key"] is not None and len(config["secret_key"].encode()) < 32:
        return "secret_key (SEMPERVIRENS_SECRET_KEY): must be at least 32 characters"
    if config["dns_server"]:
        from ..enrich import parse_nameserver

        try:
            parse_nameserver(config["dns_server"])
        except ValueError as error:
            return f"--dns-server {config['dns_server']!r}: {error}"
    if bool(config["tls_cert"]) != bool(config["tls_key"]):
        return "--tls-cert and --tls-key go together"
    if config["tls_cert"]:
        for flag, path in (("--tls-cert", config["tls_cert"]), ("--tls-key", config["tls_key"])):
            if not os.path.isfile(path) or not os.access(path, os.R_OK):
                return f"{flag} {path}: no such readable file"
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(config["tls_cert"],
                                                                                config["tls_key"])
        except (ssl.SSLError, OSError, ValueError) as error:
            return f"--tls-cert/--tls-key: not a matching PEM certificate and key ({error.__class__.__name__})"
    return None


def _open_stores(config: dict) -> str | None:
    """Reach and migrate both stores once, before any worker starts; a problem as one line."""
    from ..store import open_stores

    try:
        open_stores(config["data_dir"], config["database"], config["private_database"]).dispose()
    except Exception as error:  # noqa: BLE001 - said in one line; URLs (passwords) are not shown
        first = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
        return f"cannot open the stores ({type(error).__name__}: {first})"
    if not config["secret_key"]:
        from ..admin._secret import load_key

        try:
            load_key(config)  # made now if missing, so that no request has to
        except (OSError, SystemExit) as error:
            return f"the secret key in --data-dir cannot be used: {error}"
    return None


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    config = settings.resolve(args)
    settings.validate(config)  # the cycle's settings: one line and exit before listening
    problem = check(config) or _open_stores(config)
    if problem:
        print(f"sempervirens serve: {problem}", file=sys.stderr)
        return 2
    from ..monitoring import configure_logging, serve_metrics

    configure_logging(config["log_level"], config["log_format"])
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
    # Workers read their settings from the environment (one source for 1 or N workers).
    for name, value in config.items():
        if value is not None:
            os.environ[settings.SETTINGS[name].env_var] = (
                ",".join(value) if isinstance(value, tuple) else str(value))
    scheme = "https" if config["tls_cert"] else "http"
    logging.getLogger("sempervirens.server").info(
        "serving on %s://%s:%s", scheme, config["host"], config["port"])
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
        ssl_certfile=config["tls_cert"], ssl_keyfile=config["tls_key"],
        log_level=config["log_level"].lower(),
        # JSON: uvicorn's own lines go through the root logger's JSON handler too.
        **({"log_config": None} if config["log_format"] == "json" else {}),
        access_log=False,  # uvicorn's access log holds client IPs: the private store keeps them
        proxy_headers=False,  # X-Forwarded-For is judged by our own trusted-proxy rule
        server_header=False,
        timeout_graceful_shutdown=10,
        # HTTP-level limits (sempervirens/server/_http.py): head size and count,
        # request line, header and body deadlines, open connections.
        http="sempervirens.server._http:LimitedHttpToolsProtocol",
        timeout_keep_alive=config["keep_alive_timeout"],
    )
