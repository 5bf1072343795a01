"""The ping's fields, declared once: name, type, limits, ping types, column, meaning.

Derived from this list, not written again: the validator's field sets, its
`Environment` and its required-field rules (protocol/_validate.py), the JSON Schema
of /openapi.json (server/openapi.py), the store's ping columns (store/schema.py), the
writer's and the seal's column lists, and the lake's pings table (model/lake.py).
docs/protocol.md describes each field (a test checks it names them all); the client
keeps its standard-library copy of the environment's names (a test checks it too).

Adding an environment field is one `_environment(...)` entry below (plus an Alembic
revision for its column); docs/aggregation.md shows it done, with a breakdown on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .limits import MAX_COUNT, MAX_CPU_COUNT, MAX_STRING_LENGTH, MAX_TRACEBACK_LENGTH, PING_TYPES

# Wire types.  Every 'string' is 1..limit printable ASCII characters without quotes or
# backslashes; 'count' an integer 0..limit; 'text' any Unicode up to limit characters.
STRING, COUNT, BOOLEAN, TIMESTAMP, UUID4, TEXT, OBJECT = (
    "string", "count", "boolean", "timestamp", "uuid4", "text", "object")
# Column types of the store and the lake (model/lake.py names the same ones).
COLUMN_STRING, COLUMN_INT32, COLUMN_INT64, COLUMN_BOOL, COLUMN_TIMESTAMP, COLUMN_JSON = (
    "string", "int32", "int64", "bool", "timestamp", "json")

ALL_TYPES = PING_TYPES
WITH_METRICS = ("usage", "crash")


@dataclass(frozen=True)
class PingField:
    """One field of a ping body.

    path: where it is in the body ('environment.os'); its parents are objects.
    attribute: where the validated value is on protocol.Ping ('environment.os').
    column, column_type: its column in the store's pings table ('' if none).
    lake: whether the lake's pings table has the column (JSON metrics are unpacked
    into the long tables instead; `peak_rss_bytes` is taken out of them at sealing).
    required_in / allowed_in: the ping types that must / may carry it.
    with_parent: required whenever its parent object is sent (period.start and .end).
    """
    path: str
    type: str
    description: str
    limit: int = 0
    column: str = ""
    column_type: str = ""
    lake: bool = True
    required_in: tuple[str, ...] = ()
    allowed_in: tuple[str, ...] = ALL_TYPES
    attribute: str = ""
    with_parent: bool = False

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def parent(self) -> str:
        return self.path.rpartition(".")[0]


def _string(path, description, column, **extra) -> PingField:
    return PingField(path, STRING, description, MAX_STRING_LENGTH, column, COLUMN_STRING,
                     attribute=extra.pop("attribute", column), **extra)


def _environment(name, type_, description, column=None, column_type=COLUMN_STRING,
                 limit=MAX_STRING_LENGTH) -> PingField:
    return PingField(f"environment.{name}", type_, description, limit, column or name, column_type,
                     attribute=f"environment.{name}")


# In column order: the store's and the lake's columns follow it.
ENVIRONMENT: tuple[PingField, ...] = (
    _environment("os", STRING, "`Linux`, `Darwin`, `Windows`, …"),
    _environment("os_version", STRING, "e.g. the kernel release"),
    _environment("arch", STRING, "`x86_64`, `arm64`, …"),
    _environment("python_implementation", STRING, "`CPython`, `PyPy`, …"),
    _environment("python_version", STRING, "`3.11.7`"),
    _environment("cpu_count", COUNT, "logical CPUs", column_type=COLUMN_INT32, limit=MAX_CPU_COUNT),
    _environment("memory_total", COUNT, "bytes of physical memory", column_type=COLUMN_INT64,
                 limit=MAX_COUNT),
    _environment("ci", BOOLEAN, "running under continuous integration", column="is_ci",
                 column_type=COLUMN_BOOL, limit=0),
    _environment("platform_tag", STRING, "the wheel platform/ABI tag, e.g. "
                 "`manylinux_2_36_x86_64` or `cp311-cp311-macosx_14_0_arm64`"),
    # Environment tags: `none` when the client looked and found nothing; absent from
    # clients that do not look (older ones).  Breakdowns in model/domains.py.
    _environment("scheduler", STRING, "the batch scheduler running the job: `slurm`, `pbs`, "
                 "`lsf`, `sge`, or `none`"),
    _environment("container", STRING, "the container it runs in: `docker`, `podman`, "
                 "`apptainer`, `singularity`, or `none`"),
    _environment("notebook", STRING, "`jupyter` (a Jupyter kernel), `ipython` (a terminal "
                 "IPython), or `none`"),
    _environment("install", STRING, "how Python was installed: `conda`, `pip-venv` (a "
                 "virtual environment) or `system`", column="install_method"),
    _environment("ci_provider", STRING, "the CI service (`github-actions`, `gitlab`, …), "
                 "`other` (CI, but not a known service), or `none`"),
)

FIELDS: tuple[PingField, ...] = (
    PingField("client_id", UUID4, "RFC 4122 **version 4** UUID (random), generated on the "
              "user's machine and kept there; any other version is refused", column="client_id",
              required_in=("usage", "crash", "deletion-request"),
              allowed_in=("usage", "crash", "deletion-request"), lake=False,  # a lake key column
              attribute="client_id", column_type=COLUMN_STRING, limit=36),
    _string("project_version", "the instrumented project's version",
            "project_version", required_in=("usage", "crash", "opt-out")),
    _string("library.name", "the client library, e.g. `sempervirens-python`", "library_name"),
    _string("library.version", "the client library's version, e.g. `0.1.0`", "library_version"),
    PingField("period.start", TIMESTAMP, "start of the reporting period the metrics cover",
              column="period_start", column_type=COLUMN_TIMESTAMP, attribute="period_start",
              with_parent=True),
    PingField("period.end", TIMESTAMP, "end of the reporting period, not before `start`",
              column="period_end", column_type=COLUMN_TIMESTAMP, attribute="period_end",
              with_parent=True),
    *ENVIRONMENT,
    PingField("metrics", OBJECT, "`counters`, `labeled_counters`, `timings`, `memory` (below)",
              column="metrics", column_type=COLUMN_JSON, lake=False, allowed_in=WITH_METRICS,
              attribute="metrics"),
    PingField("metrics.counters", OBJECT, "metric name → count", allowed_in=WITH_METRICS),
    PingField("metrics.labeled_counters", OBJECT, "metric name → (label → count)",
              allowed_in=WITH_METRICS),
    PingField("metrics.timings", OBJECT, "metric name → timing distribution",
              allowed_in=WITH_METRICS),
    PingField("metrics.memory.peak_rss_bytes", COUNT, "the process's peak resident memory at "
              "the end of the period", MAX_COUNT, column="peak_rss_bytes",
              column_type=COLUMN_INT64, allowed_in=WITH_METRICS),  # a lake column only
    PingField("crash.exception_type", STRING, "dotted Python name, e.g. `ValueError`",
              2 * MAX_STRING_LENGTH, "crash_type", COLUMN_STRING, required_in=("crash",),
              allowed_in=("crash",), attribute="crash_type"),
    PingField("crash.traceback", TEXT, "the traceback, scrubbed by the client",
              MAX_TRACEBACK_LENGTH, "crash_traceback", COLUMN_STRING, allowed_in=("crash",),
              attribute="crash_traceback"),
    PingField("dropped", OBJECT, "reason → count of data the client had to drop",
              column="dropped", column_type=COLUMN_JSON, attribute="dropped"),
)

BY_PATH = {f.path: f for f in FIELDS}


def children(parent: str) -> frozenset[str]:
    """The names of the fields directly under `parent` ('' for the top level)."""
    names = set()
    for f in FIELDS:
        parts = f.path.split(".")
        depth = len(parent.split(".")) if parent else 0
        if parts[:depth] == (parent.split(".") if parent else []) and len(parts) > depth:
            names.add(parts[depth])
    return frozenset(names)


def stored() -> tuple[PingField, ...]:
    """The fields with a column in the store's pings table, in column order."""
    return tuple(f for f in FIELDS if f.column and f.attribute)


def in_lake() -> tuple[PingField, ...]:
    """The fields with a column in the lake's pings table, in column order."""
    return tuple(f for f in FIELDS if f.column and f.lake)
