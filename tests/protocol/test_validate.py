"""Property tests of the protocol validator: it accepts exactly what version 1 allows."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sempervirens.protocol import (
    MAX_BUCKET,
    MAX_COUNT,
    PING_TYPES,
    ProtocolError,
    identifier_in,
    normalize_project,
    timing_bucket,
    validate_ping,
)

from sempervirens.protocol._identifiers import public_suffix_list  # noqa: E402

public_suffix_list()  # loaded once, before hypothesis times the examples (it takes ~0.4 s)

# Names and labels that look like a host name or an address are refused (test_identifiers.py).
names = st.from_regex(r"[a-z][a-z0-9_]{0,10}(\.[a-z0-9_]{1,8}){0,2}", fullmatch=True).filter(
    lambda name: identifier_in(name) is None)
counts = st.integers(0, MAX_COUNT)
labels = st.from_regex(r"[A-Za-z0-9_.\-]{1,20}", fullmatch=True).filter(lambda label: identifier_in(label) is None)
client_ids = st.builds(lambda: str(uuid.uuid4()))


@st.composite
def timings(draw):
    buckets = draw(st.dictionaries(st.integers(0, MAX_BUCKET).map(str), st.integers(0, 1000), max_size=5))
    return {"count": sum(buckets.values()), "sum_us": draw(counts), "buckets": buckets}


metrics = st.fixed_dictionaries({}, optional={
    "counters": st.dictionaries(names, counts, max_size=10),
    "labeled_counters": st.dictionaries(names, st.dictionaries(labels, counts, max_size=5), max_size=3),
    "timings": st.dictionaries(names, timings(), max_size=3),
    "memory": st.fixed_dictionaries({"peak_rss_bytes": counts}),
})
environments = st.fixed_dictionaries({}, optional={
    "os": st.sampled_from(["Linux", "Darwin", "Windows"]), "arch": st.sampled_from(["x86_64", "arm64"]),
    "python_version": st.from_regex(r"3\.[0-9]{1,2}\.[0-9]{1,2}", fullmatch=True),
    "cpu_count": st.integers(1, 512), "memory_total": counts, "ci": st.booleans(),
})


@st.composite
def valid_usage(draw):
    body = {"client_id": draw(client_ids), "project_version": draw(st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}",
                                                                                 fullmatch=True))}
    if draw(st.booleans()):
        body["metrics"] = draw(metrics)
    if draw(st.booleans()):
        body["environment"] = draw(environments)
    return body


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


@given(ping_type=st.sampled_from(PING_TYPES) | st.text(max_size=10), body=json_values)
@settings(max_examples=500)
def test_any_json_is_either_a_ping_or_a_protocol_error(ping_type, body):
    try:
        ping = validate_ping(ping_type, body)
    except ProtocolError as error:
        assert error.code and error.message  # a clear message for the client
    else:
        assert ping.ping_type in PING_TYPES


@given(body=valid_usage())
def test_valid_usage_pings_are_accepted_unchanged(body):
    ping = validate_ping("usage", body)
    assert ping.client_id == body["client_id"]
    assert ping.metrics == body.get("metrics", {})


@given(body=valid_usage(), key=st.text(min_size=1, max_size=10), value=json_values)
def test_an_unknown_top_level_field_is_refused(body, key, value):
    if key in ("client_id", "project_version", "library", "period", "environment", "metrics", "crash", "dropped"):
        return
    with pytest.raises(ProtocolError) as caught:
        validate_ping("usage", {**body, key: value})
    assert caught.value.code == "unknown_field" and caught.value.field == key


@given(body=valid_usage())
def test_opt_out_never_carries_a_client_id(body):
    with pytest.raises(ProtocolError) as caught:
        validate_ping("opt-out", body)
    assert caught.value.field == "client_id"


@given(client_id=st.uuids(version=1) | st.uuids(version=3) | st.uuids(version=5))
def test_only_version_4_uuids_identify_clients(client_id):
    with pytest.raises(ProtocolError):
        validate_ping("usage", {"client_id": str(client_id), "project_version": "1"})


@given(name=st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._\-]{0,30}[A-Za-z0-9])?", fullmatch=True))
def test_project_names_normalise_like_package_names(name):
    normal = normalize_project(name)
    assert normalize_project(normal) == normal
    assert normal == normal.lower() and "_" not in normal and "." not in normal and "--" not in normal


def test_pep_503_examples():
    assert normalize_project("Scikit_Learn") == normalize_project("scikit-learn") == "scikit-learn"
    assert normalize_project("zope.interface") == "zope-interface"


@given(a=st.floats(0, 1e15), b=st.floats(0, 1e15))
def test_timing_buckets_are_monotonic(a, b):
    if a <= b:
        assert timing_bucket(a) <= timing_bucket(b)
    assert 0 <= timing_bucket(a) <= MAX_BUCKET
