"""The client's settings, declared once; read from the environment only.

The client lives inside other people's programs, so it has no flags of its own: a
user or a test suite steers it with environment variables, a maintainer with
arguments to `Telemetry(...)`.  docs/integrating.md lists every variable (a test
fails when one is missing there).
"""

from __future__ import annotations

import os

# The public Sempervirens collection service; a project may name its own.
DEFAULT_ENDPOINT = "https://telemetry.sempervirens.org"


# A number of seconds past a year means nothing to the client, and the platform's
# clocks, locks and sockets refuse some (1e308 killed the ticker thread with an
# OverflowError, and every upload of a long-running process failed).
YEAR = 365 * 86400.0


class EnvSetting:
    # A plain class: dataclasses would pull `inspect` into the host's import time.
    __slots__ = ("default", "help", "maximum", "name")

    def __init__(
        self, name: str, default: object, help: str, maximum: float | None = None
    ) -> None:
        self.name, self.default, self.help, self.maximum = name, default, help, maximum


ENV_SETTINGS = {
    s.name: s
    for s in (
        EnvSetting(
            "SEMPERVIRENS_ENDPOINT",
            None,
            "Collection server URL; overrides the project's endpoint (tests, mirrors).",
        ),
        EnvSetting(
            "SEMPERVIRENS_HOME",
            None,
            "Data directory for the installation id, consent and spool "
            "(default: the platform's user data directory).",
        ),
        EnvSetting(
            "SEMPERVIRENS_OPT_OUT",
            None,
            "When true (1, yes, true, on): record nothing, send nothing, for every project.",
        ),
        EnvSetting(
            "DO_NOT_TRACK",
            None,
            "The cross-tool convention: when true, same as SEMPERVIRENS_OPT_OUT.",
        ),
        EnvSetting(
            "SEMPERVIRENS_ALL_RANKS",
            None,
            "When true: every MPI rank of a parallel job records and sends "
            "(by default only rank 0 does; the others record nothing, at no cost).",
        ),
        EnvSetting(
            "SEMPERVIRENS_CA_BUNDLE",
            None,
            "PEM file of certificate authorities to trust for HTTPS instead of the system store.",
        ),
        EnvSetting(
            "SEMPERVIRENS_EXIT_TIMEOUT",
            0.1,
            "Most seconds the client may add to the host program's exit.",
            maximum=YEAR,
        ),
        EnvSetting(
            "SEMPERVIRENS_INTERVAL",
            6 * 3600.0,
            "Seconds between usage pings of a long-running process.",
            maximum=YEAR,
        ),
        EnvSetting(
            "SEMPERVIRENS_TIMEOUT",
            10.0,
            "Socket timeout in seconds of one upload (in the background thread).",
            maximum=YEAR,
        ),
        EnvSetting(
            "SEMPERVIRENS_PROMPT_TIMEOUT",
            20.0,
            "Most seconds the crash-report question waits for an answer on a terminal "
            "(then: not now).",
            maximum=YEAR,
        ),
        EnvSetting(
            "SEMPERVIRENS_SPOOL_MAX_PINGS",
            200,
            "Most pings kept on disk waiting for upload; the oldest go first.",
        ),
        EnvSetting(
            "SEMPERVIRENS_SPOOL_MAX_BYTES",
            4 * 1024 * 1024,
            "Most bytes of pings kept on disk waiting for upload.",
        ),
        EnvSetting(
            "SEMPERVIRENS_SPOOL_MAX_AGE",
            30 * 86400.0,
            "Seconds after which an unsent ping is dropped (and counted).",
            maximum=YEAR,
        ),
    )
}

_TRUE = ("1", "true", "yes", "on", "y")


def flag(name: str, environ=None) -> bool:
    value = (os.environ if environ is None else environ).get(name, "")
    return value.strip().lower() in _TRUE


# What a refusing variable may say and still not refuse: anything else is a no
# (DO_NOT_TRACK=2 or =always too: in doubt, collect less).
_NOT_REFUSING = ("", "0", "false", "no", "off", "n")


def denied_by_environment(environ=None) -> str | None:
    """The variable that refuses everything, if one is set."""
    environ = os.environ if environ is None else environ
    for name in ("DO_NOT_TRACK", "SEMPERVIRENS_OPT_OUT"):
        if environ.get(name, "").strip().lower() not in _NOT_REFUSING:
            return name
    return None


# The rank of this process in a parallel job, as the launchers say it (Open MPI,
# PMIx, MPICH/Intel MPI's PMI, MVAPICH2, then SLURM's task id under srun).
RANK_VARIABLES = (
    "OMPI_COMM_WORLD_RANK",
    "PMIX_RANK",
    "PMI_RANK",
    "MV2_COMM_WORLD_RANK",
    "MPI_RANK",
    "SLURM_PROCID",
)


def parallel_rank(environ=None) -> int | None:
    """This process's rank in an MPI or srun job, or None outside one."""
    environ = os.environ if environ is None else environ
    for name in RANK_VARIABLES:
        value = environ.get(name, "").strip()
        if value.isdigit():
            return int(value)
    return None


def other_rank(environ=None) -> bool:
    """True in ranks 1, 2, ... of a parallel job: they record nothing unless asked to."""
    rank = parallel_rank(environ)
    return bool(rank) and not flag("SEMPERVIRENS_ALL_RANKS", environ)


def text(name: str, environ=None) -> str | None:
    value = (os.environ if environ is None else environ).get(name, "").strip()
    return value or None


# Settings that must be more than zero (an interval of 0 would spin).
_POSITIVE = ("SEMPERVIRENS_INTERVAL", "SEMPERVIRENS_TIMEOUT", "SEMPERVIRENS_SPOOL_MAX_AGE")


def number(name: str, environ=None) -> float:
    """A finite number from the environment, or the declared default when unset or bad.

    A bad value (not a number, negative, infinite, or 0 where that means nothing
    sensible) is refused with one warning.
    """
    default = ENV_SETTINGS[name].default
    raw = text(name, environ)
    if raw is None:
        return default
    problem = number_problem(name, raw)
    if problem:
        warn(f"{name}={raw!r} refused ({problem}); using {default}")
        return default
    return float(raw)


def number_problem(name: str, raw: object) -> str | None:
    """Why `raw` is not an acceptable value of the number setting `name` (None if it is)."""
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "not a number"
    if value != value or value in (float("inf"), float("-inf")):
        return "not a finite number"
    if value < 0 or (value == 0 and name in _POSITIVE):
        return "must be more than 0" if name in _POSITIVE else "must not be negative"
    maximum = ENV_SETTINGS[name].maximum
    if maximum is not None and value > maximum:
        return f"at most {maximum:g} (a year)"
    return None


def without_credentials(url: str) -> str:
    """`url` without the user:password@ of its authority (with or without a scheme).

    Credentials in an endpoint URL are never sent (the transport drops them), so
    they are dropped from the start: not kept in the spool, shown or logged.  A
    proxy URL's are sent to the proxy, and shown nowhere.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    authority, slash, path = rest.partition("/")
    host = authority.rpartition("@")[2]
    return f"{scheme}{sep}{host}{slash}{path}"


def endpoint_problem(endpoint: object) -> str | None:
    """Why `endpoint` is not an http:// or https:// URL with a host (None if it is one)."""
    if type(endpoint) is not str:
        return f"endpoint must be a string, not {type(endpoint).__name__}"
    scheme, sep, rest = endpoint.partition("://")
    endpoint = without_credentials(endpoint)  # for the messages: they are shown
    if not sep or scheme.lower() not in ("http", "https"):
        return f"endpoint must be an http:// or https:// URL, not {endpoint!r}"
    authority = rest.partition("/")[0].rpartition("@")[2]
    host, port = authority, ""
    if authority.startswith("["):
        host, _, tail = authority[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else ""
    elif ":" in authority:
        host, _, port = authority.rpartition(":")
    if not host:
        return f"endpoint without a host: {endpoint!r}"
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        return f"endpoint with a bad port: {endpoint!r}"
    return None


_warned: set = set()


def warn(message: str, stacklevel: int = 4) -> None:
    """One warning per distinct message and process: a configuration mistake, said once.

    `warnings` is loaded by every interpreter at start-up: this costs no import.
    Under a test runner whose warnings are errors (the maintainer's own tests), it
    fails the test that created the Telemetry, which is where it belongs.
    """
    if message in _warned:
        return
    _warned.add(message)
    import warnings

    warnings.warn("sempervirens: " + message, UserWarning, stacklevel=stacklevel)
