"""Every operator setting, declared once: name, default, help.

A setting is read from its command-line flag, then from its environment variable
SEMPERVIRENS_<NAME>, then from its default.  docs/operations.md lists them all (a
test fails when one is missing there).  The embedded client has settings of its own,
read from the environment only: see sempervirens/client/_config.py.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Setting:
    name: str  # also the flag (--name with '-') and the variable (SEMPERVIRENS_NAME)
    default: Any
    help: str
    type: Callable[[str], Any] = str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env_var(self) -> str:
        return "SEMPERVIRENS_" + self.name.upper()


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


_bool.__name__ = "boolean"  # argparse names the type in its error message
_csv.__name__ = "comma-separated list"

SETTINGS = {
    s.name: s
    for s in (
        Setting("host", "127.0.0.1", "Address to listen on."),
        Setting("port", 8000, "TCP port to listen on.", int),
        Setting("data_dir", "./sempervirens-data",
                "Directory for the embedded SQLite stores (telemetry.db, private.db) and releases."),
        Setting("database", None,
                "SQLAlchemy URL of the telemetry store (default: SQLite in --data-dir)."),
        Setting("private_database", None,
                "SQLAlchemy URL of the private store, which holds IP addresses "
                "(default: SQLite in --data-dir). Keep it apart, with other credentials."),
        Setting("tls_cert", None, "PEM certificate chain for HTTPS."),
        Setting("tls_key", None, "PEM private key for HTTPS."),
        Setting("trusted_proxies", (),
                "Comma-separated addresses or networks of reverse proxies whose "
                "X-Forwarded-For is believed; from anyone else it is ignored.", _csv),
        Setting("registered_projects_only", False,
                "Accept pings only for projects registered by an admin (404 otherwise).", _bool),
        Setting("workers", 1, "Server processes (each with its own writer).", int),
        Setting("queue_size", 10000,
                "Pings waiting for a commit before the server answers 503 with Retry-After.", int),
        Setting("batch_size", 2000, "Most pings committed in one transaction.", int),
        Setting("dns_server", None,
                "Nameserver for reverse-DNS enrichment, as HOST:PORT or [IPv6]:PORT "
                "(default: the system resolver)."),
        Setting("log_level", "info", "Log level: debug, info, warning, error."),
        Setting("secret_key", None,
                "Key (32+ characters) for keyed hashes of deleted client_ids (tombstones); hosts "
                "sharing one database must share it (default: secret.key in --data-dir, made on first use)."),
        Setting("k_anonymity", 10,
                "Least number of distinct installations a public aggregate row may describe; "
                "smaller parts are folded into '(other)'.", int),
        Setting("retention_days", 30,
                "Days raw IP addresses (the access log) are kept; older ones are deleted once "
                "aggregated.", int),
        Setting("anomaly_min_clients", 100000,
                "Distinct client_ids from one address, for one project in one UTC day, that make "
                "it an anomaly (left out of public counts, listed by `sempervirens anomalies`).", int),
        Setting("dp_epsilon", None,
                "Differential privacy for public install counts: epsilon per project and period "
                "(default: off).", float),
        Setting("dp_delta", None,
                "Differential privacy: delta per project and period (default: 1e-7 when "
                "--dp-epsilon is set).", float),
        Setting("aggregate_interval_seconds", 3600,
                "Seconds between aggregation cycles inside `serve` (0: never; run "
                "`sempervirens aggregate` from cron instead).", int),
        Setting("ip_hash_key", None,
                "Key for the keyed hash (HMAC) of addresses in the anomaly list "
                "(default: a random key kept in the private store)."),
        Setting("releases_dir", None,
                "Directory of the public dataset releases written by `sempervirens release` and "
                "served at /datasets (default: releases in --data-dir)."),
        Setting("privacy_doc", None,
                "Markdown file shown at /privacy (default: the built-in description of what is "
                "collected and published)."),
        Setting("public_max_age", 300,
                "Seconds that browsers and caches may keep public pages and API answers "
                "(Cache-Control max-age; an ETag allows revalidation).", int),
        Setting("store_timeout", 10.0,
                "Seconds a store may take to commit a batch or answer a read before the server "
                "gives up on it (503 with Retry-After; /healthz reports it).", float),
        Setting("max_connections", 1000,
                "Open client connections per server process; more are refused at once with 503 "
                "and Retry-After.", int),
        Setting("header_timeout", 10.0,
                "Seconds a client has to send a request's line and headers.", float),
        Setting("body_timeout", 30.0,
                "Seconds a client has to send a request's body once its headers are in.", float),
        Setting("keep_alive_timeout", 5.0,
                "Seconds an idle keep-alive connection stays open.", float),
    )
}


def add_arguments(parser: argparse.ArgumentParser, *names: str) -> None:
    """Give a command the flags of these settings, with env-var defaults in --help."""
    for name in names:
        s = SETTINGS[name]
        shown = "" if s.default in (None, ()) else f" [default: {_show(s.default)}]"
        parser.add_argument(s.flag, dest=s.name, type=s.type, default=None,
                            help=f"{s.help}{shown} (env: {s.env_var})")


def resolve(args: argparse.Namespace | None = None, environ: dict | None = None, **overrides) -> dict:
    """Settings values: keyword override, then flag, then environment, then default."""
    environ = os.environ if environ is None else environ
    values = {}
    for name, s in SETTINGS.items():
        if name in overrides:
            values[name] = overrides[name]
        elif args is not None and getattr(args, name, None) is not None:
            values[name] = getattr(args, name)
        elif s.env_var in environ:
            try:
                values[name] = s.type(environ[s.env_var])
            except ValueError as error:
                raise SystemExit(f"sempervirens: {s.env_var}: {error}") from None
        else:
            values[name] = s.default
    return values


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def markdown_table() -> str:
    """The settings reference in docs/operations.md (`make docs` rewrites it)."""
    rows = ["| flag | environment variable | default | meaning |", "| --- | --- | --- | --- |"]
    for s in SETTINGS.values():
        default = "" if s.default in (None, ()) else f"`{_show(s.default)}`"
        rows.append(f"| `{s.flag}` | `{s.env_var}` | {default} | {s.help} |")
    return "\n".join(rows)
