"""The client's copy of the protocol's run-time rules agrees with sempervirens.protocol."""

import sys

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
        "MAX_PROJECT_LENGTH",
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


PROJECTS = ["numpy", "Scikit_Learn", "scikit-learn", "zope.interface", "A__b..C--d", "x",
            "a" * 100, "a" * 101, "", "-a", "a-", "_a", "a.", "a b", "é", "ａ", "K", "\u212a",
            "evil\x1b[31m", "1", "a\n", "python-dateutil", "ruamel.yaml.clib"]


@pytest.mark.parametrize("project", PROJECTS)
def test_project_rule_and_key_match_the_protocol(project):
    try:
        key = protocol.normalize_project(project)
    except protocol.ProtocolError:
        key = None
    assert _wire.valid_project(project) == (key is not None)
    if key is not None:
        assert _wire.project_key(project) == key


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

def test_the_client_sends_exactly_the_environment_fields_the_catalogue_declares():
    from sempervirens.client import _environment
    from sempervirens.model.ping import ENVIRONMENT

    sent = _environment.environment()
    assert set(sent) == {f.name for f in ENVIRONMENT}  # none unknown, none forgotten
    assert set(_environment.SENT_TAGS) <= set(sent)  # always sent, "none" if nothing found
    protocol.validate_ping("usage", {"client_id": "0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405162",
                                     "project_version": "1.0", "environment": sent})


def _detected(monkeypatch, tmp_path) -> dict[str, set]:
    """Every value the client's detection gives for each tag, each branch driven by the
    environment, files or modules it looks at (None: nothing found, sent as "none")."""
    import types

    from sempervirens.client import _environment

    def run(environ=(), files=(), prefix=None, shell=None):
        root = tmp_path / f"root{len(seen['scheduler'])}-{len(seen['container'])}"
        for name in files:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text("")
        root.mkdir(exist_ok=True)
        with monkeypatch.context() as m:
            m.setattr(_environment.sys, "prefix", str(prefix or tmp_path / "system"))
            m.setattr(_environment.sys, "base_prefix", str(tmp_path / "system"))
            if shell is not None:
                m.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
                m.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
            else:
                m.delitem(sys.modules, "IPython", raising=False)
            found = _environment.tags(dict(environ), str(root))
        for tag in _environment.SENT_TAGS:
            seen[tag].add(found[tag])

    seen: dict[str, set] = {tag: set() for tag in _environment.SENT_TAGS}
    run()
    for _, variable in (*_environment.SCHEDULERS, *_environment.CI_PROVIDERS):
        run({variable: "1"})
    run({"JOB_ID": "7", "SGE_ROOT": "/opt/sge"})
    run({"CI": "true"})  # a CI service the client does not know by name
    for variable in ("APPTAINER_CONTAINER", "SINGULARITY_CONTAINER"):
        run({variable: "/img.sif"})
    run(files=["run/.containerenv"])
    run(files=[".dockerenv"])
    conda = tmp_path / "conda"
    (conda / "conda-meta").mkdir(parents=True)
    run(prefix=conda)
    run(prefix=tmp_path / "venv")
    run(shell=type("ZMQInteractiveShell", (), {})())
    run(shell=type("TerminalInteractiveShell", (), {})())
    return seen


def test_every_tag_the_client_can_send_is_in_its_public_domain_and_back(monkeypatch, tmp_path):
    """Both ways: no value the client detects falls outside the published domain (it
    would only ever count as '(other)'), and no public value is one it never sends."""
    from sempervirens.client import _environment
    from sempervirens.model.domains import BREAKDOWNS
    from sempervirens.model.ping import BY_PATH

    domain = {b.field: {value for value, _ in b.values} for b in BREAKDOWNS}
    for tag, values in _detected(monkeypatch, tmp_path).items():
        sent = {"none" if value is None else value for value in values}
        assert sent == domain[BY_PATH[f"environment.{tag}"].column], tag


def test_the_label_alphabet_is_the_protocols_character_by_character():
    for code in [*range(0x20, 0x7F), 0xE9, 0x2028, 0x1F600]:
        char = chr(code)
        assert _wire.valid_label(char) == bool(_validate._TOKEN.match(char)), repr(char)


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

