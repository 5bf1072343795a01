"""The client's copy of the protocol's run-time rules agrees with sempervirens.protocol."""

import pytest

from sempervirens import protocol
from sempervirens.client import _wire
from sempervirens.protocol import _limits, _validate

NAMES = [
    "io.read_csv",
    "a",
    "a.b-c_d",
    "solve",
    "x1.y2",
    "_bad",
    "Bad",
    "a..b",
    "a.",
    "a-",
    "1a",
    "a b",
    "a.-b",
    "io.read_csv.",
    "a" * 128,
    "a" * 129,
    "é",
    "",
    "a_",
    "a.__b",
]
LABELS = [
    "csv",
    "",
    "with space",
    "semi;colon",
    'quote"',
    "back\\slash",
    "é",
    "x" * 64,
    "x" * 65,
    "[brackets]{}",
    "tab\t",
]


@pytest.mark.parametrize(
    "name",
    [
        "SCHEMA_VERSION",
        "MAX_METRICS",
        "MAX_LABELS_PER_METRIC",
        "MAX_NAME_LENGTH",
        "MAX_LABEL_LENGTH",
        "MAX_STRING_LENGTH",
        "MAX_TRACEBACK_LENGTH",
        "MAX_COUNT",
        "MAX_DROPPED_REASONS",
        "BUCKETS_PER_DOUBLING",
        "MAX_BUCKET",
        "MAX_BODY_BYTES",
    ],
)
def test_limits_equal_the_protocol(name):
    assert getattr(_wire, name) == getattr(_limits, name)


@pytest.mark.parametrize("name", NAMES)
def test_name_rule_matches_the_protocol(name):
    accepted = len(name) <= _limits.MAX_NAME_LENGTH and bool(_validate._NAME.match(name))
    assert _wire.valid_name(name) == accepted


@pytest.mark.parametrize("label", LABELS)
def test_label_rule_matches_the_protocol(label):
    accepted = len(label) <= _limits.MAX_LABEL_LENGTH and bool(_validate._TOKEN.match(label))
    assert _wire.valid_label(label) == accepted


def test_timing_buckets_match_the_protocol():
    durations = [0, 0.5, 1, 1.19, 1.5, 2, 3, 1000, 123456.7, 2.0**49, 2.0**51, float("nan"), -5]
    durations += [1.1**k for k in range(0, 400, 7)]
    for d in durations:
        assert _wire.timing_bucket(d) == protocol.timing_bucket(d), d


def test_submit_path_matches_the_protocol():
    doc = "0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405162"
    assert _wire.submit_path("numpy", "usage", doc) == protocol.submit_path("numpy", "usage", doc)


def test_clean_string_makes_environment_strings_acceptable():
    for raw in ['6.1.0-18 "amd64"', "x" * 300, "naïve\\path"]:
        cleaned = _wire.clean_string(raw)
        protocol.validate_ping("opt-out", {"project_version": cleaned})


def test_the_header_names_are_the_protocol_s():
    headers = pytest.importorskip(
        "sempervirens.protocol.headers",
        reason="sempervirens.protocol.headers comes with the server side of issue 22",
    )
    assert _wire.POLICY_VERSION == headers.POLICY_VERSION
    assert _wire.POLICY_MATERIAL == headers.POLICY_MATERIAL
    assert _wire.SECURITY_NOTICE == headers.SECURITY_NOTICE
