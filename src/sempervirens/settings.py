"""Every operator setting, declared once: name, default, help.

A setting is read from its command-line flag, then from its environment variable
SEMPERVIRENS_<NAME>, then from its default.  docs/operations.md lists them all (a
test fails when one is missing there).  The embedded client has settings of its own,
read from the environment only: see sempervirens/client/_config.py.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable

from .model.statistics import Bounds


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


def _location(value: str) -> str:
    if not value.strip():
        raise ValueError("empty location")
    return value.strip()


def _whole(unit: str):
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"not a whole number of {unit}: {value!r}") from None
        if number < 0:
            raise ValueError(f"must be 0 or more {unit}, not {number}")
        return number
    parse.__name__ = f"whole number of {unit}"  # argparse names the type in its error message
    return parse


_hours, _days = _whole("hours"), _whole("days")
_bool.__name__ = "boolean"  # argparse names the type in its error message
_csv.__name__ = "comma-separated list"
_BOUNDS = Bounds()  # the contribution bounds' defaults are the catalogue's

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
                "A public threshold on released (noisy) counts: a value below k is published as "
                "'< k', with its interval.", int),
        Setting("retention_days", 30,
                "Days raw IP addresses (the access log) are kept; older ones are deleted once "
                "aggregated.", int),
        Setting("anomaly_min_clients", 100000,
                "Distinct client_ids from one address, for one project in one UTC day, that make "
                "it an anomaly (left out of public counts, listed by `sempervirens anomalies`).", int),
        Setting("dp_delta", 1e-7,
                "Differential privacy: delta per day of one installation's data, split over the "
                "day, week and month releases like their epsilons (only statistics with private "
                "partition selection spend it).", float),
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
        Setting("dp_epsilon_day", 0.5,
                "Differential privacy: epsilon of each day's release of a project; with the week's "
                "and the month's, the loss per day of one installation's data (default total 1, "
                "as Wikimedia's pageview release).", float),
        Setting("dp_epsilon_week", 0.25,
                "Differential privacy: epsilon of each ISO week's release of a project.", float),
        Setting("dp_epsilon_month", 0.25,
                "Differential privacy: epsilon of each calendar month's release of a project.",
                float),
        Setting("release_grace_hours", 2,
                "Hours after a UTC day ends before it is released (late reports still count); "
                "weeks and months are released when all their days are.", float),
        Setting("bound_max_features", _BOUNDS.max_features,
                "Contribution bound: (metric, label) cells one installation counts in per period.",
                int),
        Setting("bound_max_events_per_day", _BOUNDS.max_events_per_day,
                "Contribution bound: events one installation counts per cell and day.", int),
        Setting("bound_max_timings", _BOUNDS.max_timings,
                "Contribution bound: timings one installation counts in per period.", int),
        Setting("bound_max_crash_cells", _BOUNDS.max_crash_cells,
                "Contribution bound: (crash kind, version) cells one installation counts in per "
                "period.", int),
        Setting("bound_max_crashes_per_day", _BOUNDS.max_crashes_per_day,
                "Contribution bound: crash reports one installation counts per cell and day.", int),
        Setting("no_dp", False,
                "Release without differential privacy (a private deployment only): nothing is "
                "then served publicly.", _bool),
        Setting("lake", None,
                "Where sealed days are kept as Parquet: a directory, or a URI that pyarrow "
                "opens (s3://bucket/path, gs://..., hdfs://...) (default: lake in --data-dir).",
                _location),
        Setting("seal_grace_hours", 2,
                "Hours after a UTC day ends before it is sealed into the lake (pings still "
                "being committed at midnight get in).", _hours),
        Setting("hot_margin_days", 2,
                "Days of sealed pings the hot store keeps besides the unsealed ones; older "
                "sealed days are deleted from it.", _days),
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
        Setting("cycle_timeout", 3600.0, "Seconds one store statement of the aggregation cycle inside `serve` may take; past it the statement is cancelled and the cycle runs again at the next interval.", float),
        Setting("metrics_port", None, "Port for the Prometheus metrics at /metrics, on --host, no token (default: off).", int),
        Setting("metrics_token", None, "Bearer token that opens /metrics on the server's own port (default: off)."),
        Setting("log_format", "text", "Log lines as text, or json: one object per line (time, level, logger, message, request_id)."),
    )
}


def validate(values: dict) -> None:
    """Refuse settings the release cannot keep its promises with: SystemExit, one line.
    Called by the commands before they run anything (never inside a request or a cycle)."""
    for name in ("dp_epsilon_day", "dp_epsilon_week", "dp_epsilon_month"):
        if not values[name] > 0:
            raise SystemExit(f"sempervirens: {name} must be positive (got {values[name]})")
    if not 0 < values["dp_delta"] < 1e-3:
        raise SystemExit(f"sempervirens: dp_delta must be between 0 and 0.001 "
                         f"(got {values['dp_delta']})")
    if not values["release_grace_hours"] >= 0:
        raise SystemExit("sempervirens: release_grace_hours must be 0 or more "
                         f"(got {values['release_grace_hours']})")
    for name in SETTINGS:
        if name.startswith("bound_") and not values[name] >= 1:
            raise SystemExit(f"sempervirens: {name} must be 1 or more (got {values[name]})")
    if values["k_anonymity"] < 1:
        raise SystemExit("sempervirens: k_anonymity must be 1 or more "
                         f"(got {values['k_anonymity']})")


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
    # Defaults that live in the data directory.
    data_dir = Path(values["data_dir"])
    values["lake"] = values["lake"] or str(data_dir / "lake")
    values["releases_dir"] = values["releases_dir"] or str(data_dir / "releases")
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


# The aggregation engine (sempervirens.aggregate.engine, docs/aggregation.md).
def _engine(value: str) -> str:
    if value not in ("duckdb", "spark"):
        raise ValueError(f"must be duckdb or spark, not {value!r}")
    return value


def _memory(value: str) -> str:
    import re

    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", value.strip()):
        raise ValueError(f"not an amount of memory such as 4GB or 512MiB: {value!r}")
    return value.strip()


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"must be a whole number of at least 1, not {value!r}")
    return number


def _master(value: str) -> str:
    import re

    if not re.fullmatch(r"local(\[([0-9]+|\*)(,[0-9]+)?\])?|(spark|mesos|k8s)://\S+|yarn",
                        value.strip()):
        raise ValueError(f"not a Spark master URL (local[N], spark://HOST:PORT, yarn, "
                         f"k8s://…): {value!r}")
    return value.strip()


_engine.__name__ = "engine"
_memory.__name__ = "amount of memory"
_positive.__name__ = "positive integer"
_master.__name__ = "Spark master URL"

for _setting in (
    Setting("engine", "duckdb",
            "Aggregation engine: duckdb (in-process) or spark (the same queries, past one "
            "machine; needs the spark extra and Java 17).", _engine),
    Setting("engine_memory_limit", None,
            "Memory the DuckDB engine may use before spilling to --engine-temp-dir, "
            "such as 8GB (default: a quarter of the machine's memory).", _memory),
    Setting("engine_threads", None,
            "Threads of the DuckDB engine (default: one per core).", _positive),
    Setting("engine_temp_dir", None,
            "Directory where the engine spills what does not fit in memory (DuckDB's "
            "temp_directory, Spark's spark.local.dir; default: a new temporary directory)."),
    Setting("spark_master", "local[2]",
            "Spark master URL for --engine spark: local[N], spark://HOST:PORT, yarn, k8s://….",
            _master),
):
    SETTINGS[_setting.name] = _setting
