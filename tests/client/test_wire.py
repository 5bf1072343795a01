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


# -- the environment: the client's names and tag values against the catalogue ------

def test_the_client_sends_only_environment_fields_the_catalogue_declares():
    from sempervirens.client import _environment
    from sempervirens.model.ping import ENVIRONMENT

    declared = {f.name for f in ENVIRONMENT}
    sent = _environment.environment()
    assert set(sent) <= declared
    assert set(_environment.SENT_TAGS) <= set(sent)  # always sent, "none" if nothing found
    protocol.validate_ping("usage", {"client_id": "0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405162",
                                     "project_version": "1.0", "environment": sent})


def test_the_tags_the_client_detects_are_in_the_public_domains():
    from sempervirens.client import _environment
    from sempervirens.model.domains import BREAKDOWNS
    from sempervirens.model.ping import BY_PATH

    domain = {b.field: {value for value, _ in b.values} for b in BREAKDOWNS}
    column = {name: BY_PATH[f"environment.{name}"].column for name in _environment.SENT_TAGS}
    assert {tag for tag, _ in _environment.SCHEDULERS} | {"none"} == domain[column["scheduler"]]
    assert {tag for tag, _ in _environment.CI_PROVIDERS} | {"other", "none"} == domain[
        column["ci_provider"]]
    assert {"docker", "podman", "apptainer", "singularity", "none"} == domain[column["container"]]
    assert {"jupyter", "ipython", "none"} == domain[column["notebook"]]
    assert {"conda", "pip-venv", "system"} == domain[column["install"]]


def test_none_is_sent_when_nothing_was_detected(monkeypatch):
    from sempervirens.client import _environment

    monkeypatch.setattr(_environment, "_cache", None)
    monkeypatch.setattr(_environment, "tags", lambda: {
        "scheduler": None, "container": None, "notebook": None, "install": "system",
        "ci_provider": None, "mpi_rank": 3})
    sent = _environment.environment()
    assert {name: sent[name] for name in _environment.SENT_TAGS} == {
        "scheduler": "none", "container": "none", "notebook": "none", "install": "system",
        "ci_provider": "none"}
    assert "mpi_rank" not in sent


def test_the_header_names_are_the_protocol_s():
    from sempervirens.protocol import headers

    assert _wire.POLICY_VERSION == headers.POLICY_VERSION
    assert _wire.POLICY_MATERIAL == headers.POLICY_MATERIAL
    assert _wire.SECURITY_NOTICE == headers.SECURITY_NOTICE
