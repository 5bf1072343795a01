"""Validation of ping bodies: the single definition of what version 1 accepts.

`validate_ping` takes the decoded JSON of a ping and returns a `Ping` with every
field checked and normalised, or raises `ProtocolError` naming the first bad
field.  Unknown fields are refused rather than ignored, so that nothing a client
did not mean to declare (a user name, an address) can slip into the store.  The
fields, their types, limits and ping types are those of the catalogue
(`sempervirens.model.ping`); what is written here is how each type is checked.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, make_dataclass
from datetime import datetime, timezone

from ..model.ping import BOOLEAN, BY_PATH, COUNT, ENVIRONMENT, STRING, children
from ._identifiers import UUID_ANYWHERE, identifier_in, uuid_in
from ._limits import (
    BUCKETS_PER_DOUBLING,
    EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
    MAX_BUCKET,
    MAX_COUNT,
    MAX_DROPPED_REASONS,
    MAX_LABEL_LENGTH,
    MAX_LABELS_PER_METRIC,
    MAX_METRICS,
    MAX_NAME_LENGTH,
    MAX_PROJECT_LENGTH,
    MAX_STRING_LENGTH,
    MAX_TRACEBACK_LENGTH,
    PING_TYPES,
    TIMING_FIELDS,
)


class ProtocolError(ValueError):
    """A ping that version 1 does not accept.  `field` is a dotted path into the body."""

    def __init__(self, field: str, message: str, code: str = "invalid_field") -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
        self.code = code


# The environment's fields, from the catalogue, in the order they are checked: strings,
# then counts, then booleans (the first bad one is the one reported).
_ENVIRONMENT_STRINGS = tuple((f.name, f.path, f.limit) for f in ENVIRONMENT if f.type == STRING)
_ENVIRONMENT_COUNTS = tuple((f.name, f.limit) for f in ENVIRONMENT if f.type == COUNT)
_ENVIRONMENT_BOOLEANS = tuple((f.name, f.path) for f in ENVIRONMENT if f.type == BOOLEAN)
assert len(_ENVIRONMENT_STRINGS) + len(_ENVIRONMENT_COUNTS) + len(_ENVIRONMENT_BOOLEANS) == len(ENVIRONMENT)

Environment = make_dataclass(
    "Environment",
    [(name, "str | int | bool | None", field(default=None))
     for name, *_ in (*_ENVIRONMENT_STRINGS, *_ENVIRONMENT_COUNTS, *_ENVIRONMENT_BOOLEANS)],
    slots=True)
Environment.__module__ = __name__
Environment.__doc__ = "The validated environment: one attribute per field of model.ping.ENVIRONMENT."


@dataclass(slots=True)
class Ping:
    ping_type: str
    client_id: str | None = None
    project_version: str | None = None
    library_name: str | None = None
    library_version: str | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    environment: Environment = field(default_factory=Environment)
    # Metrics in their wire shape, validated: {"counters": {...}, "labeled_counters": ...}
    metrics: dict = field(default_factory=dict)
    crash_type: str | None = None
    crash_traceback: str | None = None
    dropped: dict | None = None  # None when the client dropped nothing


# Metric names: lower-case dotted snake case, as Glean's "category.name".
_NAME = re.compile(r"[a-z][a-z0-9_]*(?:[.\-][a-z0-9_]+)*\Z")
# Labels and environment strings: printable ASCII without quotes or backslashes.
_TOKEN = re.compile(r"[A-Za-z0-9_.,:;+\-/ ()=~@#%^!?*<>\[\]{}|]*\Z")
_EXCEPTION_TYPE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
# UUIDs in canonical form; a version 4 one has version nibble 4 and the RFC 4122 variant.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_UUID4 = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}\Z")
# Timing bucket keys: ASCII decimal digits only (str.isdigit() also takes '²' and '٣').
_BUCKET_KEY = re.compile(r"(?:0|[1-9][0-9]{0,2})\Z")
# Project names as on package indexes (PEP 508 names).
_PROJECT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._\-]*[A-Za-z0-9])?\Z")
_PROJECT_SEPARATORS = re.compile(r"[-_.]+")
# RFC 3339's leap second (time-second 60), fraction included.
_LEAP_SECOND = re.compile(r"(T[0-9]{2}:[0-9]{2}):60(?:\.[0-9]+)?(?=[Z+-])")

# Field names at each level, from the catalogue (model/ping.py).
_TOP_LEVEL = children("")
_ENVIRONMENT_FIELDS = children("environment")
_METRIC_KINDS = children("metrics")
_MEMORY_FIELDS = children("metrics.memory")
_LIBRARY_FIELDS = children("library")
_PERIOD_FIELDS = children("period")
_CRASH_FIELDS = children("crash")
_TIMING_FIELDS = frozenset(TIMING_FIELDS)
# Which ping types must, and which may, carry a field.
_CLIENT_ID = BY_PATH["client_id"]
_PROJECT_VERSION_REQUIRED = BY_PATH["project_version"].required_in
_METRICS_ALLOWED = BY_PATH["metrics"].allowed_in
_CRASH_REQUIRED = BY_PATH["crash.exception_type"].required_in
_EXCEPTION_TYPE_LENGTH = BY_PATH["crash.exception_type"].limit
_token = _TOKEN.match
_name_match = _NAME.match


def normalize_project(name: str) -> str:
    """PEP 503 normalisation: `Scikit_Learn` and `scikit-learn` are one project."""
    if not isinstance(name, str) or len(name) > MAX_PROJECT_LENGTH or not _PROJECT.match(name):
        raise ProtocolError("project", "must be a package name (letters, digits, '.', '_', '-')")
    return _PROJECT_SEPARATORS.sub("-", name).lower()


def parse_document_id(value: str) -> str:
    """A document id is a UUID in canonical 8-4-4-4-12 form; returned in lower case."""
    if not isinstance(value, str) or not _UUID.match(value):
        raise ProtocolError("document_id", "must be a UUID in 8-4-4-4-12 hexadecimal form")
    return value.lower()


def parse_client_id(value: object) -> str:
    if not isinstance(value, str):
        raise ProtocolError("client_id", "must be a string holding a version 4 UUID")
    if not _UUID4.match(value):
        raise ProtocolError("client_id", "must be a version 4 UUID (RFC 4122 section 4.4) in 8-4-4-4-12 form")
    return value.lower()


def decode_json(data: bytes) -> dict:
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, ValueError) as error:
        raise ProtocolError("", f"body is not valid UTF-8 JSON: {error}", "malformed_json") from None
    if not isinstance(body, dict):
        raise ProtocolError("", "body must be a JSON object", "malformed_json")
    return body


def validate_ping(ping_type: str, body: object) -> Ping:
    # This runs for every ping the server receives.  Each check has a fast form
    # inline (no call, no allocation) that only ever accepts what the helper
    # below it accepts; when the fast form fails, the helper runs and raises the
    # same error it always did, in the same order.
    if ping_type not in PING_TYPES:
        raise ProtocolError("ping_type", f"unknown ping type, expected one of {', '.join(PING_TYPES)}",
                            "unknown_ping_type")
    if not isinstance(body, dict):
        raise ProtocolError("", "body must be a JSON object", "malformed_json")
    if not body.keys() <= _TOP_LEVEL:
        _no_unknown_fields(body, _TOP_LEVEL, "")
    get = body.get

    client_id = None
    if ping_type in _CLIENT_ID.required_in:
        if "client_id" not in body:
            raise ProtocolError("client_id", f"is required in a {ping_type} ping", "missing_field")
        client_id = parse_client_id(body["client_id"])
    elif "client_id" in body:
        raise ProtocolError("client_id", "an opt-out ping must not carry a client_id", "forbidden_field")

    if ping_type in _PROJECT_VERSION_REQUIRED and "project_version" not in body:
        raise ProtocolError("project_version", "is required", "missing_field")
    project_version = get("project_version")
    if project_version is not None and not (
            project_version.__class__ is str and 0 < len(project_version) <= MAX_STRING_LENGTH
            and _token(project_version) and identifier_in(project_version, True) is None):
        project_version = _not_identifier(_string(project_version, "project_version"),
                                          "project_version", version=True)

    library_name = library_version = None
    library = get("library")
    if library is not None:
        if not (library.__class__ is dict and library.keys() <= _LIBRARY_FIELDS):
            _optional_object(body, "library", "library", _LIBRARY_FIELDS)
        if library:
            library_name = _no_uuid(_optional_string(library, "name", "library.name"), "library.name")
            library_version = _no_uuid(_optional_string(library, "version", "library.version"), "library.version")

    period_start = period_end = None
    period = get("period")
    if period is not None:
        if not (period.__class__ is dict and period.keys() <= _PERIOD_FIELDS):
            _optional_object(body, "period", "period", _PERIOD_FIELDS)
        if period:
            period_start = _timestamp(period.get("start"), "period.start")
            period_end = _timestamp(period.get("end"), "period.end")
            if period_end < period_start:
                raise ProtocolError("period.end", "must not be before period.start")

    environment = get("environment")
    if environment is None or not environment:
        if environment is not None:
            _optional_object(body, "environment", "environment", _ENVIRONMENT_FIELDS)
        env = Environment()
    else:
        if not (environment.__class__ is dict and environment.keys() <= _ENVIRONMENT_FIELDS):
            _optional_object(body, "environment", "environment", _ENVIRONMENT_FIELDS)
        values = []
        for name, path, limit in _ENVIRONMENT_STRINGS:
            value = environment.get(name)
            if value is not None and not (
                    value.__class__ is str and 0 < len(value) <= limit and _token(value)
                    and not uuid_in(value)):
                value = _no_uuid(_string(value, path, limit), path)
            values.append(value)
        for name, limit in _ENVIRONMENT_COUNTS:
            value = environment.get(name)
            if value is not None and not (value.__class__ is int and 0 <= value <= limit):
                value = _count(value, "environment", name, limit)
            values.append(value)
        for name, path in _ENVIRONMENT_BOOLEANS:
            value = None
            if name in environment:
                value = environment[name]
                if value is not True and value is not False:
                    raise ProtocolError(path, "must be true or false")
            values.append(value)
        env = Environment(*values)

    metrics: dict = {}
    if "metrics" in body:
        if ping_type not in _METRICS_ALLOWED:
            raise ProtocolError("metrics", f"a {ping_type} ping carries no metrics", "forbidden_field")
        metrics = _metrics(body["metrics"])

    crash_type = crash_traceback = None
    if ping_type in _CRASH_REQUIRED:
        crash = _optional_object(body, "crash", "crash", _CRASH_FIELDS)
        if not crash:
            raise ProtocolError("crash", "is required in a crash ping", "missing_field")
        crash_type = _string(crash.get("exception_type"), "crash.exception_type", _EXCEPTION_TYPE_LENGTH)
        if not _EXCEPTION_TYPE.match(crash_type):
            raise ProtocolError("crash.exception_type", "must be a dotted Python name")
        if "traceback" in crash:
            crash_traceback = _traceback(crash["traceback"])
    elif "crash" in body:
        raise ProtocolError("crash", "only a crash ping carries crash fields", "forbidden_field")

    checked_dropped: dict = {}
    if "dropped" in body:
        dropped = body["dropped"]
        if not isinstance(dropped, dict) or len(dropped) > MAX_DROPPED_REASONS:
            raise ProtocolError("dropped", f"must be an object of at most {MAX_DROPPED_REASONS} reasons")
        for reason, count in dropped.items():
            checked_dropped[_name(reason, "dropped")] = _count(count, "dropped", reason)
    return Ping(ping_type, client_id, project_version, library_name, library_version, period_start, period_end,
                env, metrics, crash_type, crash_traceback, checked_dropped or None)


def _metrics(metrics: object) -> dict:
    if not isinstance(metrics, dict):
        raise ProtocolError("metrics", "must be an object")
    if not metrics.keys() <= _METRIC_KINDS:
        _no_unknown_fields(metrics, _METRIC_KINDS, "metrics")
    total = 0
    out: dict = {}
    counters = metrics.get("counters")
    if counters is not None:
        _object(counters, "metrics.counters")
        total += len(counters)
        _check_total(total)
        for k, v in counters.items():
            if not (k.__class__ is str and len(k) <= MAX_NAME_LENGTH and _name_match(k)
                    and identifier_in(k) is None):
                _name(k, "metrics.counters")
            if not (v.__class__ is int and 0 <= v <= MAX_COUNT):
                _count(v, "metrics.counters", k)
        out["counters"] = dict(counters)
    labeled = metrics.get("labeled_counters")
    if labeled is not None:
        _object(labeled, "metrics.labeled_counters")
        checked = {}
        for name, labels in labeled.items():
            if not (name.__class__ is str and len(name) <= MAX_NAME_LENGTH and _name_match(name)
                    and identifier_in(name) is None):
                _name(name, "metrics.labeled_counters")
            if not (labels.__class__ is dict and len(labels) <= MAX_LABELS_PER_METRIC):
                path = f"metrics.labeled_counters.{name}"
                _object(labels, path)
                if len(labels) > MAX_LABELS_PER_METRIC:
                    raise ProtocolError(path, f"has more than {MAX_LABELS_PER_METRIC} labels", "too_many_metrics")
            total += len(labels)
            _check_total(total)
            for k, v in labels.items():
                if not (k.__class__ is str and len(k) <= MAX_LABEL_LENGTH and _token(k)
                        and identifier_in(k) is None):
                    _label(k, f"metrics.labeled_counters.{name}")
                if not (v.__class__ is int and 0 <= v <= MAX_COUNT):
                    _count(v, f"metrics.labeled_counters.{name}", k)
            checked[name] = dict(labels)
        out["labeled_counters"] = checked
    timings = metrics.get("timings")
    if timings is not None:
        _object(timings, "metrics.timings")
        total += len(timings)
        _check_total(total)
        checked = {}
        for k, v in timings.items():
            if not (k.__class__ is str and len(k) <= MAX_NAME_LENGTH and _name_match(k)
                    and identifier_in(k) is None):
                _name(k, "metrics.timings")
            checked[k] = _timing(v, f"metrics.timings.{k}")
        out["timings"] = checked
    memory = metrics.get("memory")
    if memory is not None:
        _object(memory, "metrics.memory")
        if not memory.keys() <= _MEMORY_FIELDS:
            _no_unknown_fields(memory, _MEMORY_FIELDS, "metrics.memory")
        for k, v in memory.items():
            if not (v.__class__ is int and 0 <= v <= MAX_COUNT):
                _count(v, "metrics.memory", k)
        out["memory"] = dict(memory)
    return out


def _timing(value: object, path: str) -> dict:
    _object(value, path)
    if not value.keys() <= _TIMING_FIELDS:
        _no_unknown_fields(value, _TIMING_FIELDS, path)
    count = value.get("count")
    if not (count.__class__ is int and 0 <= count <= MAX_COUNT):
        _count(count, path, "count")
    sum_us = value.get("sum_us")
    if not (sum_us.__class__ is int and 0 <= sum_us <= MAX_COUNT):
        _count(sum_us, path, "sum_us")
    buckets = value.get("buckets")
    _object(buckets, f"{path}.buckets")
    if len(buckets) > MAX_BUCKET + 1:
        raise ProtocolError(f"{path}.buckets", "has too many buckets")
    total = 0
    for key, n in buckets.items():
        if not (isinstance(key, str) and _BUCKET_KEY.match(key) and int(key) <= MAX_BUCKET):
            raise ProtocolError(f"{path}.buckets.{key}", f"bucket keys are integers 0..{MAX_BUCKET}")
        if not (n.__class__ is int and 0 <= n <= MAX_COUNT):
            _count(n, f"{path}.buckets", key)
        total += n
    if total != count:
        raise ProtocolError(f"{path}.count", "must equal the sum of the bucket counts")
    return {"count": count, "sum_us": sum_us, "buckets": dict(buckets)}


def _check_total(total: int) -> None:
    if total > MAX_METRICS:
        raise ProtocolError("metrics", f"more than {MAX_METRICS} metrics in one ping", "too_many_metrics")


def _no_unknown_fields(obj: dict, allowed: frozenset, path: str) -> None:
    for key in obj:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise ProtocolError(where, "unknown field", "unknown_field")


def _object(value: object, path: str) -> None:
    if not isinstance(value, dict):
        raise ProtocolError(path, "must be an object")


def _optional_object(body: dict, key: str, path: str, allowed: frozenset) -> dict | None:
    value = body.get(key)
    if value is None:
        return None
    _object(value, path)
    _no_unknown_fields(value, allowed, path)
    return value


# The helpers below take the parent path and build the full one only when they
# raise: validation runs for every ping, so the success path allocates nothing.

def _name(value: object, parent: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_NAME_LENGTH or not _NAME.match(value):
        raise ProtocolError(f"{parent}.{value}",
                            f"names are lower-case dotted snake_case, at most {MAX_NAME_LENGTH} characters")
    return _not_identifier(value, f"{parent}.{value}")


def _label(value: str, parent: str) -> str:
    if len(value) > MAX_LABEL_LENGTH or not _TOKEN.match(value):
        raise ProtocolError(f"{parent}.{value}", f"labels are printable ASCII, at most {MAX_LABEL_LENGTH} characters")
    return _not_identifier(value, f"{parent}.{value}")


def _not_identifier(value: str, path: str, version: bool = False) -> str:
    kind = identifier_in(value, version)
    if kind is not None:
        raise ProtocolError(path, f"looks like {kind}; names, labels and versions must not identify "
                                  "a person, a machine or an installation")
    return value


def _no_uuid(value: str | None, path: str) -> str | None:
    if value is not None and uuid_in(value):
        raise ProtocolError(path, "holds a UUID; only client_id may carry one")
    return value


def _traceback(value: object) -> str:
    # PostgreSQL text cannot hold NUL, and lone surrogates cannot be encoded: refused.
    # UUIDs are replaced: no ping may carry another installation's client_id.
    text = _text(value, "crash.traceback", MAX_TRACEBACK_LENGTH)
    if "\x00" in text:
        raise ProtocolError("crash.traceback", "must not contain NUL (U+0000) characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ProtocolError("crash.traceback", "must be valid Unicode (no lone surrogates)") from None
    return UUID_ANYWHERE.sub("<uuid>", text) if "-" in text else text


def _count(value: object, parent: str, key: str, limit: int = MAX_COUNT) -> int:
    # bool is an int in Python; true is not a count.
    if type(value) is not int or not 0 <= value <= limit:
        raise ProtocolError(f"{parent}.{key}", f"must be an integer from 0 to {limit}",
                            "missing_field" if value is None else "invalid_field")
    return value


def _optional_count(body: dict, key: str, parent: str) -> int | None:
    value = body.get(key)
    return None if value is None else _count(value, parent, key)


def _string(value: object, path: str, limit: int = MAX_STRING_LENGTH) -> str:
    if not isinstance(value, str):
        raise ProtocolError(path, "must be a string", "missing_field" if value is None else "invalid_field")
    if not value or len(value) > limit or not _TOKEN.match(value):
        raise ProtocolError(path, f"must be 1 to {limit} printable ASCII characters")
    return value


def _optional_string(body: dict, key: str, path: str) -> str | None:
    value = body.get(key)
    return None if value is None else _string(value, path)


def _text(value: object, path: str, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise ProtocolError(path, f"must be a string of at most {limit} characters")
    return value


def _timestamp(value: object, path: str) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise ProtocolError(path, "must be an RFC 3339 timestamp", "missing_field" if value is None else "invalid_field")
    text = value.upper() if value.isascii() else value  # RFC 3339 allows 't' and 'z' too
    if ":60" in text:  # a leap second: the last microsecond before it (Python has none)
        text = _LEAP_SECOND.sub(r"\1:59.999999", text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ProtocolError(path, "must be an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        raise ProtocolError(path, "must carry a UTC offset, e.g. 2026-01-31T12:00:00Z")
    try:  # 0001-01-01T00:00:00+01:00 is before the first datetime Python can hold in UTC
        utc = parsed.astimezone(timezone.utc)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST_TIMESTAMP <= utc < LATEST_TIMESTAMP:
        raise ProtocolError(path, f"must be from {EARLIEST_TIMESTAMP:%Y-%m-%d} to before "
                                  f"{LATEST_TIMESTAMP:%Y-%m-%d} (UTC)")
    return utc


def timing_bucket(duration_us: float) -> int:
    """The shared bucket of a duration in microseconds (see BUCKETS_PER_DOUBLING)."""
    if not duration_us >= 1:  # also catches NaN
        return 0
    return min(MAX_BUCKET, int(math.log2(duration_us) * BUCKETS_PER_DOUBLING))
