"""The server's fast path to a validated ping: JSON bytes to `Ping` in one step.

msgspec decodes the body straight into typed structs generated from the catalogue
(model/ping.py, model/limits.py): field names, wire types, lengths and ranges, unknown
fields refused at every level.  What msgspec cannot express (the printable-ASCII
rule, identifiers in names and versions, UUIDs, timestamps, bucket sums, which ping
type needs which field) is checked on the decoded structs with the validator's own
helpers.  This path only ever accepts; on anything it does not accept, the body is
decoded again and given to `validate_ping` (_validate.py), the one definition of
version 1, which accepts it or says what is wrong with it.  A differential test
(tests/protocol/test_fast.py) holds the two to the same answers.

Server only: msgspec is a server dependency (the client imports `protocol` alone).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

import msgspec
import orjson
from msgspec import UNSET, Meta, UnsetType

from ..model.ping import BOOLEAN, BY_PATH, COUNT, FIELDS, STRING, TEXT, children
from ._limits import (
    MAX_BUCKET,
    MAX_COUNT,
    MAX_DROPPED_REASONS,
    MAX_LABEL_LENGTH,
    MAX_LABELS_PER_METRIC,
    MAX_METRICS,
    MAX_NAME_LENGTH,
    PING_TYPES,
    TIMING_FIELDS,
)
from ._validate import (
    _BUCKET_KEY,
    _ENVIRONMENT_BOOLEANS,
    _ENVIRONMENT_COUNTS,
    _ENVIRONMENT_STRINGS,
    _EXCEPTION_TYPE,
    _UUID4,
    Environment,
    Ping,
    ProtocolError,
    _name_match,
    _timestamp,
    _token,
    _traceback,
    identifier_in,
    uuid_in,
    validate_ping,
)

__all__ = ["decode_ping"]

_Count = Annotated[int, Meta(ge=0, le=MAX_COUNT)]
_Name = Annotated[str, Meta(max_length=MAX_NAME_LENGTH)]
_Label = Annotated[str, Meta(max_length=MAX_LABEL_LENGTH)]
_Buckets = Annotated[dict[str, _Count], Meta(max_length=MAX_BUCKET + 1)]
_Timing = msgspec.defstruct(
    "Timing", [(name, _Buckets if name == "buckets" else _Count) for name in TIMING_FIELDS],
    forbid_unknown_fields=True)
# The objects whose keys are the client's (metric names, labels, reasons), by path.
_MAPS = {
    "metrics.counters": dict[_Name, _Count],
    "metrics.labeled_counters": dict[_Name, Annotated[dict[_Label, _Count],
                                                      Meta(max_length=MAX_LABELS_PER_METRIC)]],
    "metrics.timings": dict[_Name, _Timing],
    "dropped": Annotated[dict[_Name, _Count], Meta(max_length=MAX_DROPPED_REASONS)],
}


def _wire(path: str):
    """The msgspec type of one declared field (timestamps and UUIDs: strings, checked after)."""
    field = BY_PATH[path]
    if field.type == STRING:
        return Annotated[str, Meta(min_length=1, max_length=field.limit)]
    if field.type == COUNT:
        return Annotated[int, Meta(ge=0, le=field.limit)]
    if field.type == BOOLEAN:
        return bool
    if field.type == TEXT:
        return Annotated[str, Meta(max_length=field.limit)]
    return str


def _struct(parent: str) -> type:
    """The struct of one object of the body, its fields from the catalogue; each optional
    unless sent with its parent (period.start, period.end)."""
    fields = []
    for name in sorted(children(parent)):
        path = f"{parent}.{name}" if parent else name
        kind = _struct(path) if children(path) else _MAPS.get(path) or _wire(path)
        if path in BY_PATH and BY_PATH[path].with_parent:
            fields.append((name, kind))
        else:
            fields.append((name, kind | UnsetType, UNSET))
    return msgspec.defstruct(parent.title().replace(".", "") or "Body", fields, kw_only=True,
                             forbid_unknown_fields=True)


_DECODER = msgspec.json.Decoder(_struct(""))


def _types(top: str, attribute: str) -> frozenset[str]:
    """The ping types that must (attribute 'required_in') or may carry a top-level field:
    its own declaration's, or its children's."""
    declared = BY_PATH.get(top)
    if declared is not None:
        return frozenset(getattr(declared, attribute))
    below = (f for f in FIELDS if f.path.startswith(top + "."))
    return frozenset(t for f in below for t in getattr(f, attribute))


# For each ping type: the top-level fields it must carry, and those it must not.
_TOP = sorted(children(""))
_REQUIRED = {t: tuple(n for n in _TOP if t in _types(n, "required_in")) for t in PING_TYPES}
_FORBIDDEN = {t: tuple(n for n in _TOP if t not in _types(n, "allowed_in")) for t in PING_TYPES}
_ENV_STRINGS = tuple(name for name, *_ in _ENVIRONMENT_STRINGS)
_ENV_OTHERS = tuple(name for name, *_ in (*_ENVIRONMENT_COUNTS, *_ENVIRONMENT_BOOLEANS))
_MEMORY = tuple(sorted(children("metrics.memory")))


# The verdicts on strings, remembered: most pings carry the same names, labels, versions
# and environment strings.  msgspec has bounded their lengths (at most 128 characters).
@lru_cache(maxsize=16384)
def _plain(value: str) -> bool:
    """Printable ASCII without a UUID (library and environment strings)."""
    return bool(_token(value)) and not uuid_in(value)


@lru_cache(maxsize=16384)
def _identifies_nothing(value: str, version: bool = False) -> bool:
    """Printable ASCII that looks like no identifier (labels, the project's version)."""
    return bool(_token(value)) and identifier_in(value, version) is None


@lru_cache(maxsize=16384)
def _is_name(value: str) -> bool:
    """A metric name or a dropped reason."""
    return bool(_name_match(value)) and identifier_in(value) is None


class _NotHere(Exception):
    """Not accepted by the fast path: the validator decides."""


def decode_ping(ping_type: str, data: bytes) -> Ping:
    """The validated ping in `data`, or ProtocolError (from validate_ping) saying why not."""
    if ping_type in _REQUIRED:
        try:
            return _checked(ping_type, _DECODER.decode(data))
        except (_NotHere, ProtocolError, msgspec.MsgspecError, ValueError, RecursionError):
            pass
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise ProtocolError("", f"body is not valid UTF-8 JSON: {error}",
                            "malformed_json") from None
    return validate_ping(ping_type, body)


def _checked(ping_type: str, body) -> Ping:
    for name in _REQUIRED[ping_type]:
        if getattr(body, name) is UNSET:
            raise _NotHere
    for name in _FORBIDDEN[ping_type]:
        if getattr(body, name) is not UNSET:
            raise _NotHere

    client_id = body.client_id
    if client_id is UNSET:
        client_id = None
    elif _UUID4.match(client_id):
        client_id = client_id.lower()
    else:
        raise _NotHere
    project_version = _string(body.project_version, version=True)

    library_name = library_version = None
    library = body.library
    if library is not UNSET:
        library_name, library_version = _no_uuid(library.name), _no_uuid(library.version)

    period_start = period_end = None
    period = body.period
    if period is not UNSET:
        period_start = _timestamp(period.start, "period.start")
        period_end = _timestamp(period.end, "period.end")
        if period_end < period_start:
            raise _NotHere

    environment = body.environment
    if environment is UNSET:
        env = Environment()
    else:
        values = []
        for name in _ENV_STRINGS:
            value = getattr(environment, name)
            if value is UNSET:
                value = None
            elif not _plain(value):
                raise _NotHere
            values.append(value)
        for name in _ENV_OTHERS:
            value = getattr(environment, name)
            values.append(None if value is UNSET else value)
        env = Environment(*values)

    metrics = {} if body.metrics is UNSET else _metrics(body.metrics)

    crash_type = crash_traceback = None
    crash = body.crash
    if crash is not UNSET:
        crash_type = crash.exception_type
        if crash_type is UNSET or not (_token(crash_type) and _EXCEPTION_TYPE.match(crash_type)):
            raise _NotHere
        if crash.traceback is not UNSET:
            crash_traceback = _traceback(crash.traceback)

    dropped = None
    if body.dropped is not UNSET:
        for reason in body.dropped:
            _name(reason)
        dropped = body.dropped or None
    return Ping(ping_type, client_id, project_version, library_name, library_version,
                period_start, period_end, env, metrics, crash_type, crash_traceback, dropped)


def _value(value):
    return None if value is UNSET else value


def _string(value, version: bool = False) -> str | None:
    """A string field (its length checked by msgspec): printable ASCII, no identifier."""
    if value is UNSET:
        return None
    if not _identifies_nothing(value, version):
        raise _NotHere
    return value


def _no_uuid(value) -> str | None:
    if value is UNSET:
        return None
    if not _plain(value):
        raise _NotHere
    return value


def _name(value: str) -> None:
    if not _is_name(value):
        raise _NotHere


def _metrics(metrics) -> dict:
    out: dict = {}
    total = 0
    if metrics.counters is not UNSET:
        for name in metrics.counters:
            _name(name)
        total += len(metrics.counters)
        out["counters"] = metrics.counters
    if metrics.labeled_counters is not UNSET:
        for name, labels in metrics.labeled_counters.items():
            _name(name)
            for label in labels:
                if not _identifies_nothing(label):
                    raise _NotHere
            total += len(labels)
        out["labeled_counters"] = metrics.labeled_counters
    if metrics.timings is not UNSET:
        timings = {}
        for name, timing in metrics.timings.items():
            _name(name)
            buckets = timing.buckets
            for key in buckets:
                if not (_BUCKET_KEY.match(key) and int(key) <= MAX_BUCKET):
                    raise _NotHere
            if sum(buckets.values()) != timing.count:
                raise _NotHere
            timings[name] = {"count": timing.count, "sum_us": timing.sum_us, "buckets": buckets}
        total += len(timings)
        out["timings"] = timings
    if total > MAX_METRICS:
        raise _NotHere
    if metrics.memory is not UNSET:
        out["memory"] = {name: value for name in _MEMORY
                         if (value := getattr(metrics.memory, name)) is not UNSET}
    return out
