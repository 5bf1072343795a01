"""Every operator setting, declared once: name, default, help.

A setting is read from its command-line flag, then from its environment variable
SEMPERVIRENS_<NAME>, then from the configuration file (TOML, its keys the settings'
names: --config, else SEMPERVIRENS_CONFIG, else DEFAULT_CONFIG if it exists), then
from its default.  docs/operations.md lists them all (a test fails when one is
missing there).  The embedded client has settings of its own, read from the
environment only: see sempervirens/client/_config.py.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable

from . import textfile
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


def _whole(unit: str, most: int):
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"not a whole number of {unit}: {value!r}") from None
        if not 0 <= number <= most:
            raise ValueError(f"must be from 0 to {most} {unit}, not {number}")
        return number
    parse.__name__ = f"whole number of {unit}"  # argparse names the type in its error message
    return parse


_hours, _days = _whole("hours", 24 * 366), _whole("days", 3660)  # a year; ten years


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type for a command's own number (an id, a count, a limit): a whole
    number from low to high (past what a store column holds, one failed in its SQL with
    OverflowError, after the command had begun: an audit row written, nothing listed)."""
    def parse(value: str) -> int:
        if not re.fullmatch(r"\s*-?[0-9]{1,30}\s*", value):
            raise argparse.ArgumentTypeError(f"not a whole number: {value!r}")
        number = int(value)
        if number < low:
            raise argparse.ArgumentTypeError(f"must be {low} or more, not {number}")
        if number > high:
            raise argparse.ArgumentTypeError(f"must be at most {high}, not {number}")
        return number
    parse.__name__ = "whole number"
    return parse
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
        Setting("batch_size", 2000, "Most pings committed in one transaction (whose rows are at "
                "most 32 MiB of JSON besides).", int),
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
        Setting("private_min_users", 5,
                "Fewest installations an institution must have in a period for the private "
                "API and pages to show it, to maintainers and admins alike: a smaller count "
                "names a few people at a small organisation (1 shows every count).", int),
        Setting("retention_days", 30,
                "Days raw IP addresses (the access log) are kept; older ones are deleted once "
                "aggregated.", int),
        Setting("anomaly_min_clients", 100000,
                "Distinct client_ids from one address (an IPv6 address's whole /64), for one "
                "project in one UTC day, that make it an anomaly (left out of private "
                "aggregates, listed by "
                "`sempervirens anomalies`).", int),
        Setting("dp_delta", 1e-7,
                "Differential privacy: delta per day of one installation's data, split over the "
                "day, week and month releases like their epsilons (only statistics with private "
                "partition selection spend it).", float),
        Setting("aggregate_interval_seconds", 3600,
                "Seconds between aggregation cycles inside `serve`, on a grid of the clock "
                "(0: never; run `sempervirens aggregate` from cron instead).", int),
        Setting("ip_hash_key", None,
                "Key for the keyed hash (HMAC) of addresses in the anomaly list "
                "(default: a random key kept in the private store)."),
        Setting("releases_dir", None,
                "Directory of the public dataset releases written by `sempervirens release` and "
                "served at /datasets (default: releases in --data-dir)."),
        Setting("privacy_doc", None,
                "Markdown file shown at /privacy (default: the built-in description of what is "
                "collected and published)."),
        Setting("contact", None,
                "The deployment's contact address for privacy questions and requests, shown on "
                "/privacy and /privacy/policy (an e-mail address)."),
        Setting("public_url", None,
                "The site's address as its readers reach it (https://stats.example.org): the "
                "notices feed and the notices and policy API link to it (default: the request's "
                "Host header, and those answers are then not kept by caches)."),
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
                "opens (s3://bucket/path, gs://..., hdfs://...) or fsspec does (abfs://..., "
                "...) (default: lake in --data-dir).",
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
        Setting("max_connections_per_address", 100,
                "Open connections one client (an IPv4 address, an IPv6 /64) may hold per server "
                "process, so that one client cannot take them all; more are refused with 503 "
                "and Retry-After. Trusted proxies are not limited.", int),
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
    (The command line checks the same, among the rest, with `check` before a command runs.)"""
    problem = _promise_problem(values, SETTINGS)
    if problem:
        raise SystemExit(f"sempervirens: {problem}")


def _promise_problem(values: dict, names) -> str | None:
    """The first of these settings that breaks a promise of the release, as one line."""
    for name in ("dp_epsilon_day", "dp_epsilon_week", "dp_epsilon_month"):
        # inf would be a release without noise, served publicly: that is --no-dp, said so.
        if name in names and not 0 < values[name] < float("inf"):
            return (f"{name} must be a positive, finite number (got {values[name]}; "
                    f"exact counts are --no-dp, for a private deployment only)")
    if "dp_delta" in names and not 0 < values["dp_delta"] < 1e-3:
        return f"dp_delta must be between 0 and 0.001 (got {values['dp_delta']})"
    if "release_grace_hours" in names and not 0 <= values["release_grace_hours"] <= 8784:
        return (f"release_grace_hours must be from 0 to 8784 hours "
                f"(got {values['release_grace_hours']})")
    # Counts and thresholds: at most a million, so that each is a small integer in every
    # engine's SQL and store column.
    for name in (*(n for n in SETTINGS if n.startswith("bound_")), "k_anonymity",
                 "private_min_users"):
        if name in names and not 1 <= values[name] <= 1_000_000:
            return f"{name} must be from 1 to 1000000 (got {values[name]})"
    return None


# The settings that name the two stores: every command that opens them takes these.
STORES = ("data_dir", "database", "private_database")
# The aggregation engine's: every command that runs a job, and `check`.
ENGINE = ("engine", "engine_memory_limit", "engine_threads", "engine_temp_dir", "spark_master",
          "spark_conf")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("text", "json")
_AT_LEAST_ONE = ("workers", "queue_size", "batch_size", "max_connections",
                 "max_connections_per_address", "retention_days", "anomaly_min_clients")
_SECONDS = ("store_timeout", "cycle_timeout", "header_timeout", "body_timeout",
            "keep_alive_timeout")
_NOT_NEGATIVE = ("public_max_age", "aggregate_interval_seconds")
# The most each number may be: a larger one is a typo, and past these some failed only
# later, out of sight (an interval of 10**20 s ended serve's cycle thread with a
# traceback: no aggregation, no deletion, no retention purge from then on).
_MOST = {"workers": 1024, "queue_size": 10_000_000, "batch_size": 1_000_000,
         "max_connections": 1_000_000, "max_connections_per_address": 1_000_000,
         "anomaly_min_clients": 1_000_000_000,
         "aggregate_interval_seconds": 366 * 86400, "public_max_age": 366 * 86400,
         "store_timeout": 3600, "header_timeout": 3600, "body_timeout": 3600,
         "keep_alive_timeout": 3600, "cycle_timeout": 7 * 86400}
_DIRECTORIES = ("data_dir", "releases_dir", "engine_temp_dir")  # made when missing
_FILES = ("tls_cert", "tls_key")  # privacy_doc: read as text below
# A site's address: scheme, host, port and path only (no user, query or fragment).
_SITE_URL = re.compile(r"https?://[A-Za-z0-9.\-]+(?::[0-9]{1,5})?"
                       r"(?:/[-A-Za-z0-9_.~%!$&'()*+,;=:@/]*)?")


def check(values: dict, names) -> str | None:
    """The first problem with these settings of a command, as one line naming the
    setting; None if none.  What needs no store or network is checked here, once,
    for every command (sempervirens/cli.py), before the command runs anything."""
    flag = {name: SETTINGS[name].flag for name in SETTINGS}
    if "port" in names and not 1 <= values["port"] <= 65535:
        return f"--port {values['port']}: must be from 1 to 65535"
    for name in ("host", "data_dir"):
        if name in names and not str(values[name]).strip():
            return f"{flag[name]}: empty"
    if "log_level" in names and str(values["log_level"]).lower() not in LOG_LEVELS:
        return f"--log-level {values['log_level']}: must be one of {', '.join(LOG_LEVELS)}"
    if "log_format" in names and values["log_format"] not in LOG_FORMATS:
        return f"--log-format {values['log_format']}: must be one of {', '.join(LOG_FORMATS)}"
    if "metrics_port" in names and values["metrics_port"] is not None and not (
            1 <= values["metrics_port"] <= 65535 and values["metrics_port"] != values.get("port")):
        return f"--metrics-port {values['metrics_port']}: must be from 1 to 65535, not --port"
    if "metrics_token" in names and values["metrics_token"] is not None \
            and len(values["metrics_token"]) < 16:
        return "--metrics-token: must be at least 16 characters"
    for name in _AT_LEAST_ONE:
        if name in names and values[name] < 1:
            return f"{flag[name]} {values[name]}: must be at least 1"
    if "retention_days" in names and values["retention_days"] > 36600:
        return f"{flag['retention_days']} {values['retention_days']}: must be at most 36600 days"
    for name in _SECONDS:
        if name in names and not values[name] > 0:
            return f"{flag[name]} {values[name]}: must be a positive number of seconds"
    for name in _NOT_NEGATIVE:
        if name in names and values[name] < 0:
            return f"{flag[name]} {values[name]}: must not be negative"
    for name, most in _MOST.items():
        if name in names and values[name] > most:
            return f"{flag[name]} {values[name]}: must be at most {most}"
    if "trusted_proxies" in names:
        import ipaddress

        for proxy in values["trusted_proxies"]:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                return f"--trusted-proxies: {proxy!r} is not an IP address or network"
    if "secret_key" in names and values["secret_key"] is not None \
            and len(values["secret_key"].encode()) < 32:
        return "secret_key (SEMPERVIRENS_SECRET_KEY): must be at least 32 characters"
    if "ip_hash_key" in names and values["ip_hash_key"] is not None and not values["ip_hash_key"]:
        return "ip_hash_key (SEMPERVIRENS_IP_HASH_KEY): empty"
    if "contact" in names and values["contact"] is not None \
            and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", values["contact"]):
        return f"--contact {values['contact']!r}: not an e-mail address"
    if "public_url" in names and values["public_url"] is not None \
            and not _SITE_URL.fullmatch(values["public_url"]):
        return (f"--public-url {values['public_url']!r}: not an address such as "
                f"https://stats.example.org")
    for name in ("database", "private_database"):
        if name in names and values[name] is not None and "://" not in values[name]:
            return (f"{flag[name]}: not a database URL such as postgresql://USER@HOST/NAME "
                    f"or sqlite:////PATH")
        # Before the host, an '@' of the password would be taken for the host's start
        # (the driver's errors then quote that host: the password's end).
        if name in names and values[name] is not None \
                and values[name].partition("://")[2].split("/", 1)[0].count("@") > 1:
            return (f"{flag[name]}: write an '@' of the password as %40 (more than one '@' "
                    f"before the host)")
    for name in _DIRECTORIES:
        if name in names and values[name] and os.path.exists(values[name]) \
                and not os.path.isdir(values[name]):
            return f"{flag[name]} {values[name]}: not a directory"
    if "tls_cert" in names and bool(values["tls_cert"]) != bool(values["tls_key"]):
        return "--tls-cert and --tls-key go together"
    for name in _FILES:
        path = values.get(name)
        if name in names and path and not (os.path.isfile(path) and os.access(path, os.R_OK)):
            return f"{flag[name]} {path}: no such readable file"
    if "privacy_doc" in names and values["privacy_doc"]:
        try:  # served as text on every request to /privacy
            textfile.read(values["privacy_doc"])
        except textfile.Unreadable as error:
            return f"--privacy-doc {values['privacy_doc']}: {error}"
    return _promise_problem(values, names)


# The configuration file: every command reads the same one (docs/operations.md).
CONFIG_ENV = "SEMPERVIRENS_CONFIG"
DEFAULT_CONFIG = "/etc/sempervirens/sempervirens.toml"


def config_path(args: argparse.Namespace | None, environ) -> tuple[str, bool]:
    """The configuration file, and whether it was named (a named file must exist)."""
    given = getattr(args, "config", None) if args is not None else None
    if given:
        return given, True
    if environ.get(CONFIG_ENV):
        return environ[CONFIG_ENV], True
    return DEFAULT_CONFIG, False


def read_config(path: str, named: bool = True) -> dict:
    """The settings of a configuration file; SystemExit, one line naming the file
    (and the key), for a file that cannot be read, an unknown key or a wrong type."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    if not named and not os.path.exists(path):
        return {}
    try:
        data = tomllib.loads(textfile.read(path))
    except textfile.NotText as error:
        raise SystemExit(f"sempervirens: configuration file {path}: not TOML ({error})") from None
    except textfile.Unreadable as error:
        raise SystemExit(f"sempervirens: configuration file {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise SystemExit(f"sempervirens: configuration file {path}: not TOML ({error})") from None
    values = {}
    for key, value in data.items():
        if key not in SETTINGS:
            import difflib

            close = difflib.get_close_matches(key, SETTINGS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else " (keys are the settings' names)"
            raise SystemExit(f"sempervirens: configuration file {path}: unknown setting "
                             f"{key!r}{hint}")
        try:
            values[key] = _from_toml(SETTINGS[key], value)
        except ValueError as error:
            raise SystemExit(f"sempervirens: configuration file {path}: {key}: {error}") from None
    return values


def _from_toml(s: Setting, value: Any) -> Any:
    """A TOML value as the setting's type; ValueError saying what was expected."""
    if s.type is _bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"expected true or false, not {value!r}")
    lists = (_csv, _spark_conf)
    if isinstance(value, (bool, dict)) or (isinstance(value, list) and s.type not in lists):
        raise ValueError(f"expected {_expected(s)}, not {value!r}")
    if s.type is int:
        if isinstance(value, int):
            return value
        raise ValueError(f"expected a whole number, not {value!r}")
    if s.type is float:
        if isinstance(value, (int, float)):
            return float(value)
        raise ValueError(f"expected a number, not {value!r}")
    if s.type in lists:
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple(part for item in value for part in s.type(item))
        if isinstance(value, str):
            return s.type(value)
        raise ValueError(f"expected a list of strings, not {value!r}")
    if s.type is str:
        if isinstance(value, str):
            return value
        raise ValueError(f"expected a string, not {value!r}")
    if isinstance(value, (int, float, str)):
        return s.type(str(value))  # a parsing function: the same as for the flag
    raise ValueError(f"expected {_expected(s)}, not {value!r}")


def _expected(s: Setting) -> str:
    return {_bool: "true or false", int: "a whole number", float: "a number",
            _csv: "a list of strings", _spark_conf: "a list of strings",
            str: "a string"}.get(s.type, "a string")


def add_arguments(parser: argparse.ArgumentParser, *names: str) -> None:
    """Give a command the flags of these settings, with env-var defaults in --help.

    The parser also gets --config, and remembers the names (`args.settings`) so that
    the command line checks exactly the settings a command uses before it runs."""
    group = getattr(parser, "_settings_group", None)
    if group is None:  # one group in --help, saying where values come from
        group = parser._settings_group = parser.add_argument_group(
            "settings (flag, else environment variable, else configuration file, else default)")
        group.add_argument("--config", metavar="FILE", default=None,
                           help=f"configuration file (TOML, keys as the settings' names; env: "
                                f"{CONFIG_ENV}) [default: {DEFAULT_CONFIG} if it exists]")
    parser.set_defaults(settings=tuple(dict.fromkeys(
        (*(parser.get_default("settings") or ()), *names))),
        command_name=parser.prog.partition(" ")[2])  # "admin token create", for messages
    for name in names:
        s = SETTINGS[name]
        shown = "" if s.default in (None, ()) else f" [default: {_show(s.default)}]"
        # A boolean flag alone means true (`--no-dp`), or takes true/false.
        switch = ({"nargs": "?", "const": True, "metavar": "true|false"} if s.type is _bool
                  else {})
        group.add_argument(s.flag, dest=s.name, type=_flag_type(s), default=None, **switch,
                           help=f"{s.help}{shown} (env: {s.env_var})")


def _flag_type(s: Setting) -> Callable[[str], Any]:
    """The setting's parser for argparse, which says why a value is refused (its own
    error says only "invalid <type> value" for a ValueError)."""
    if s.type in (int, float, str):
        return s.type

    def parse(value: str) -> Any:
        try:
            return s.type(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{error}") from None
    parse.__name__ = s.type.__name__
    return parse


def resolve(args: argparse.Namespace | None = None, environ: dict | None = None, **overrides) -> dict:
    """Settings values: keyword override, then flag, then environment, then the
    configuration file, then default.  A bad value: SystemExit, one line."""
    environ = os.environ if environ is None else environ
    from_file = read_config(*config_path(args, environ))
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
        elif name in from_file:
            values[name] = from_file[name]
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


# Spelled in any case: 4gb, 4GB and 4Gb are all 4 * 10**9 bytes (as DuckDB reads them).
_MEMORY_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
                 "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
# Below this the engine's process cannot keep to its limit: Python and what DuckDB
# allocates beside its buffers take 200 to 300 MiB on their own.
ENGINE_MEMORY_MINIMUM = 512 * 2**20
THREADS_PER_CORE = 8  # the most engine threads per core: more only thrash (and DuckDB
# takes minutes to start 100,000)


def memory_bytes(value: str) -> int:
    """An amount of memory such as 4GB or 512MiB, in bytes (ValueError if it is none)."""
    found = isinstance(value, str) and re.fullmatch(r"([0-9]{1,15}(?:\.[0-9]{1,6})?)\s*([A-Za-z]+)",
                                                    value.strip())
    if not found or found.group(2).lower() not in _MEMORY_UNITS:
        raise ValueError(f"not an amount of memory such as 4GB or 512MiB: {value!r}")
    return int(float(found.group(1)) * _MEMORY_UNITS[found.group(2).lower()])


def machine_memory() -> int:
    """The memory this process may use: the machine's RAM, or its control group's limit
    when lower (a container's)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            limit = Path(path).read_text().strip()
        except OSError:
            continue
        if limit.isdigit():
            total = min(total, int(limit))
    return total


def engine_memory(value: str) -> int:
    """An engine memory limit in bytes: ValueError unless it is an amount from the
    minimum to the machine's memory (a limit it cannot reach would never make it spill)."""
    amount = memory_bytes(value)
    if amount < ENGINE_MEMORY_MINIMUM:
        raise ValueError(f"at least {ENGINE_MEMORY_MINIMUM // 2**20}MiB, not {value!r}")
    if amount > machine_memory():
        raise ValueError(f"at most this machine's memory, {machine_memory() // 2**20}MiB, "
                         f"not {value!r}")
    return amount


def _memory(value: str) -> str:
    engine_memory(value)
    return value.strip()


def _threads(value: str) -> int:
    most = THREADS_PER_CORE * (os.cpu_count() or 1)
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= most:
        raise ValueError(f"must be a whole number from 1 to {most} ({THREADS_PER_CORE} per "
                         f"core), not {value!r}")
    return number


def _master(value: str) -> str:
    if not re.fullmatch(r"local(\[([1-9][0-9]*|\*)(,[0-9]+)?\])?|(spark|mesos|k8s)://\S+|yarn",
                        value.strip()):
        raise ValueError(f"not a Spark master URL (local[N] with N at least 1, "
                         f"spark://HOST:PORT, yarn, k8s://…): {value!r}")
    return value.strip()


_SPARK_PROPERTY = r"spark\.[A-Za-z0-9_.\-]+"


def _spark_conf(value: str) -> tuple[str, ...]:
    # A comma starts a new property only before spark.NAME=: values such as spark.jars
    # and spark.jars.packages are comma-separated lists themselves.
    pairs = tuple(part.strip() for part in re.split(rf",(?=\s*{_SPARK_PROPERTY}=)", value)
                  if part.strip())
    for pair in pairs:
        key, equals, _ = pair.partition("=")
        if not (equals and re.fullmatch(_SPARK_PROPERTY, key.strip())):
            raise ValueError(f"not a Spark property as spark.NAME=VALUE: {pair!r}")
    return pairs


_engine.__name__ = "engine"
_memory.__name__ = "amount of memory"
_threads.__name__ = "number of threads"
_master.__name__ = "Spark master URL"
_spark_conf.__name__ = "list of Spark properties"

for _setting in (
    Setting("engine", "duckdb",
            "Aggregation engine: duckdb (in-process) or spark (the same queries, past one "
            "machine; needs the spark extra and Java 17).", _engine),
    Setting("engine_memory_limit", None,
            "Memory the DuckDB engine's process may use, such as 8GB, at least 512MiB "
            "(default: a quarter of the machine's memory); DuckDB's buffers get 80 percent "
            "of it less 256 MiB and spill to --engine-temp-dir beyond.", _memory),
    Setting("engine_threads", None,
            "Threads of the DuckDB engine (default: one per core).", _threads),
    Setting("engine_temp_dir", None,
            "Directory where the engine spills what does not fit in memory (DuckDB's "
            "temp_directory, Spark's spark.local.dir): each job spills into a directory of "
            "its own in it, removed after the job, or by the next job if the process was "
            "killed (default: the system's temporary directory).", _location),
    Setting("spark_master", "local[2]",
            "Spark master URL for --engine spark: local[N], spark://HOST:PORT, yarn, k8s://….",
            _master),
    Setting("spark_conf", (),
            "Spark properties for --engine spark, comma-separated spark.NAME=VALUE (e.g. "
            "spark.driver.memory=8g,spark.jars=a.jar,b.jar: a comma starts a property only "
            "before spark.NAME=); the memory limit and threads above are DuckDB's.",
            _spark_conf),
):
    SETTINGS[_setting.name] = _setting
