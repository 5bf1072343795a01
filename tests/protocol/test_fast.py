"""The server's fast path (protocol/fast.py, msgspec) answers exactly as the validator does:
the same pings accepted with the same values, the same refusals with the same field, code
and message.  Here over hostile variants of a full ping of each type; conftest.py runs every
other validator test of this folder through both as well."""

from __future__ import annotations

import copy
import json

import pytest

from _differential import assert_same, slow
from sempervirens.protocol import PING_TYPES

CLIENT = "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"
FULL = {
    "client_id": CLIENT, "project_version": "1.2.3",
    "library": {"name": "sempervirens-python", "version": "0.1.0"},
    "period": {"start": "2026-11-29T10:00:00Z", "end": "2026-11-29T11:00:00+01:00"},
    "environment": {"os": "Linux", "os_version": "6.1.0", "arch": "x86_64",
                    "python_implementation": "CPython", "python_version": "3.11.7", "cpu_count": 8,
                    "memory_total": 16000000000, "ci": False,
                    "platform_tag": "manylinux_2_36_x86_64",
                    "scheduler": "none", "container": "docker", "notebook": "none",
                    "install": "pip-venv", "ci_provider": "none"},
    "metrics": {"counters": {"io.read_csv": 3, "core.fit": 0},
                "labeled_counters": {"io.read": {"csv": 3, "": 1, "C++": 2}},
                "timings": {"solve": {"count": 3, "sum_us": 3000, "buckets": {"39": 2, "0": 1}}},
                "memory": {"peak_rss_bytes": 123456789}},
    "crash": {"exception_type": "numpy.linalg.LinAlgError",
              "traceback": "Traceback: 0b7e4c52-3f4e-4d8a-9c1e-2a6f0d9b8e71 é"},
    "dropped": {"spool.full": 2},
}
DEEP: list = []
for _ in range(40):
    DEEP = [DEEP]
HOSTILE = [
    None, True, False, 0, 1, -1, 2**31 - 1, 2**31, 2**53 - 1, 2**53, 2**63, 2**64, 10**30, 1.0, 1.5,
    -0.0, 1e300, "", " ", "x" * 64, "x" * 65, "x" * 128, "x" * 129, "x" * 257, "é", "\u00b2",
    "a\u0000b", 'a"b', "a\\b", "a\nb", "\ud83d\ude00", "0b7e4c52-3f4e-4d8a-9c1e-2a6f0d9b8e71",
    "0B7E4C52-3F4E-4D8A-9C1E-2A6F0D9B8E71", "1b4e28ba-2fa1-1d3b-a3f5-ef19b5a7633b",
    "someone@example.org", "10.0.0.1", "::1", "host.example.com", "/home/me", "C:", "~x",
    "io.read_csv", "IO.Read", "39", "201", "2026-11-29T10:00:00Z", "2026-11-29T10:00:00",
    "1969-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "2026-11-29t10:00:60.5z", [], [1], {},
    {"x": 1}, {"io.read_csv": 1}, {"39": 1}, {"count": 1, "sum_us": 1, "buckets": {"1": 1}},
    DEEP,
]


def _paths(value, prefix=()):
    """Every path to a value in a nested body, objects and their members."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))


def _replaced(body, path, value):
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


_DELETE = object()


def _bodies(ping_type):
    base = _for(ping_type)
    yield base
    for path in _paths(base):
        if not path:
            continue
        for value in (*HOSTILE, _DELETE):
            yield _replaced(base, path, value)
    for path in _paths(base):  # an unknown member of each object
        target = base
        for key in path:
            target = target[key]
        if isinstance(target, dict):
            yield _replaced(base, (*path, "unknown"), 1) if path else {**base, "unknown": 1}
    for other in FULL:  # each field of the other ping types, sent in this one
        if other not in base:
            yield {**base, other: FULL[other]}
    # Past the limits of counts: metrics in a ping, labels of a metric, dropped reasons.
    yield {**base, "metrics": {"counters": {f"m.n{i}": 1 for i in range(1001)}}}
    yield {**base, "metrics": {"counters": {f"m.n{i}": 1 for i in range(999)},
                               "labeled_counters": {"a.b": {"x": 1, "y": 2}}}}
    yield {**base, "metrics": {"labeled_counters": {"a.b": {f"l{i}": 1 for i in range(101)}}}}
    yield {**base, "dropped": {f"r.n{i}": 1 for i in range(21)}}


def _for(ping_type):
    body = copy.deepcopy(FULL)
    if ping_type != "crash":
        del body["crash"]
    if ping_type == "opt-out":
        del body["client_id"]
    if ping_type not in ("usage", "crash"):
        del body["metrics"]
    return body


RAW = [
    b"", b"{", b"[]", b"null", b"1", b'"x"', b"\xef\xbb\xbf{}", b"{} x", b" {} ", b"{}\n",
    b'{"project_version": "1.0", "project_version": 5}',
    b'{"project_version": 5, "project_version": "1.0"}',
    b'{"project_version": "1.0", "environment": {"ci": true, "ci": null}}',
    b'{"project_version": "1.0", "environment": {"cpu_count": NaN}}',
    b'{"project_version": "1.0", "environment": {"cpu_count": Infinity}}',
    b'{"project_version": "1.0", "environment": {"cpu_count": 1e2}}',
    b'{"project_version": "1.0", "environment": {"cpu_count": 123456789012345678901234567890}}',
    b'{"project_version": "1.0", "environment": {"os": "\\ud800"}}',
    b'{"project_version": "\xff"}', b'{"project_version": "\xed\xa0\x80"}',
    b'{"project_version": "1.0", "crash": {"exception_type": "E", "traceback": "\\ud800"}}',
    b"[" * 2000 + b"]" * 2000, b'{"a":' * 2000 + b"1" + b"}" * 2000,
]


@pytest.mark.parametrize("ping_type", [*PING_TYPES, "other"])
def test_hostile_variants_of_a_full_ping_get_the_same_answer(ping_type):
    accepted = 0
    for body in _bodies(ping_type if ping_type in PING_TYPES else "usage"):
        data = json.dumps(body).encode()
        assert_same(ping_type, data)
        accepted += slow(ping_type, data)[0] == "accepted"
    assert accepted > 1 or ping_type == "other"  # the corpus holds accepted pings too


@pytest.mark.parametrize("ping_type", PING_TYPES)
@pytest.mark.parametrize("data", RAW)
def test_malformed_and_odd_json_gets_the_same_answer(ping_type, data):
    assert_same(ping_type, data)
