"""The ping's fields are declared once (model/ping.py) and everything else follows them:
the validator, the JSON Schema of /openapi.json, the store's and the lake's columns,
the writer's and the seal's column lists, and docs/protocol.md."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from sempervirens.model import ping as catalogue
from sempervirens.model.domains import BREAKDOWNS
from sempervirens.model.lake import PINGS
from sempervirens.model.limits import PING_TYPES_WITH_CLIENT_ID
from sempervirens.protocol import ProtocolError, validate_ping
from sempervirens.server.openapi import PING_SCHEMAS
from sempervirens.store import schema, writer
from sempervirens.store.lake import _seal

DOCS = Path(__file__).resolve().parents[2] / "docs"
TAGS = ("scheduler", "container", "notebook", "install", "ci_provider")
STRINGS = [f for f in catalogue.ENVIRONMENT if f.type == catalogue.STRING]


def _usage(**environment) -> dict:
    return {"client_id": str(uuid.uuid4()), "project_version": "1.0", "environment": environment}


def test_every_environment_string_of_the_catalogue_is_accepted_and_kept():
    sent = {f.name: f"value-{i}" for i, f in enumerate(STRINGS)}
    env = validate_ping("usage", _usage(**sent)).environment
    assert {f.name: getattr(env, f.name) for f in STRINGS} == sent


def test_the_environment_tags_are_wire_fields():
    env = validate_ping("usage", _usage(scheduler="slurm", container="none", notebook="jupyter",
                                        install="pip-venv", ci_provider="github-actions")).environment
    assert (env.scheduler, env.container, env.notebook, env.install, env.ci_provider) == (
        "slurm", "none", "jupyter", "pip-venv", "github-actions")
    assert validate_ping("usage", _usage()).environment.scheduler is None  # not reported


@pytest.mark.parametrize("tag", TAGS)
@pytest.mark.parametrize("value, message", [
    ("x" * 129, "1 to 128 printable ASCII"),
    ("", "1 to 128 printable ASCII"),
    ('say "hi"', "printable ASCII"),
    (7, "must be a string"),
    ("0b7e4c52-3f4e-4d8a-9c1e-2a6f0d9b8e71", "holds a UUID"),
])
def test_a_bad_environment_tag_is_refused_naming_it(tag, value, message):
    with pytest.raises(ProtocolError) as error:
        validate_ping("usage", _usage(**{tag: value}))
    assert error.value.field == f"environment.{tag}"
    assert message in error.value.message


def test_a_field_the_catalogue_does_not_declare_is_still_refused():
    with pytest.raises(ProtocolError) as error:
        validate_ping("usage", _usage(hostname="lab-7"))
    assert (error.value.field, error.value.code) == ("environment.hostname", "unknown_field")


def test_the_counts_keep_their_catalogue_limits():
    cpu = catalogue.BY_PATH["environment.cpu_count"]
    assert validate_ping("usage", _usage(cpu_count=cpu.limit)).environment.cpu_count == cpu.limit
    with pytest.raises(ProtocolError, match="environment.cpu_count"):
        validate_ping("usage", _usage(cpu_count=cpu.limit + 1))


FULL = {"client_id": str(uuid.uuid4()), "project_version": "1.0",
        "crash": {"exception_type": "ValueError"}}


def _tops(ping_type: str, which: str) -> set[str]:
    return {f.path.split(".")[0] for f in catalogue.FIELDS if ping_type in getattr(f, which)}


@pytest.mark.parametrize("ping_type", catalogue.ALL_TYPES)
def test_the_required_and_allowed_fields_are_the_catalogues(ping_type):
    assert catalogue.BY_PATH["client_id"].required_in == PING_TYPES_WITH_CLIENT_ID
    required = _tops(ping_type, "required_in")
    body = {k: v for k, v in FULL.items() if k in required}
    validate_ping(ping_type, body)
    for top in required:
        with pytest.raises(ProtocolError) as error:
            validate_ping(ping_type, {k: v for k, v in body.items() if k != top})
        assert (error.value.field, error.value.code) == (top, "missing_field")
    for top in set(FULL) - _tops(ping_type, "allowed_in"):
        with pytest.raises(ProtocolError) as error:
            validate_ping(ping_type, {**body, top: FULL[top]})
        assert (error.value.field, error.value.code) == (top, "forbidden_field")


def test_the_store_columns_are_the_catalogues():
    server_side = ["document_id", "project", "ping_type", "received_at", "day"]
    columns = [c.name for c in schema.pings.columns]
    assert columns == server_side + [f.column for f in catalogue.stored()]
    assert [name for name, _ in writer._PING_COLUMNS] == columns
    assert schema.pings.c.crash_traceback.type.length is None  # text, not a bounded string
    assert schema.pings.c.scheduler.type.length == catalogue.BY_PATH["environment.scheduler"].limit


def test_the_lake_and_the_seal_take_every_catalogue_column():
    lake = set(PINGS.column_names)
    assert {f.column for f in catalogue.in_lake()} <= lake
    assert set(_seal._STORE_COLUMNS) <= lake
    # Every breakdown reads a lake column, and the new tags are among them.
    assert {b.field for b in BREAKDOWNS} <= lake
    assert {"scheduler", "container", "notebook", "install_method", "ci_provider"} <= lake


def _schema_at(root: dict, path: str) -> dict | None:
    node = root
    for part in path.split("."):
        node = node.get("properties", {}).get(part)
        if node is None:
            return None
    return node


@pytest.mark.parametrize("ping_type", catalogue.ALL_TYPES)
def test_the_json_schema_holds_each_field_where_the_catalogue_allows_it(ping_type):
    body = PING_SCHEMAS[ping_type]
    for f in catalogue.FIELDS:
        found = _schema_at(body, f.path)
        if ping_type in f.allowed_in:
            assert found is not None, f.path
            if f.type == catalogue.STRING:
                assert found["maxLength"] == f.limit
        else:
            assert found is None, f.path
    assert set(body.get("required", ())) == {
        f.path.split(".")[0] for f in catalogue.FIELDS if ping_type in f.required_in}


def test_docs_protocol_describes_every_field():
    text = (DOCS / "protocol.md").read_text()
    missing = [f.path for f in catalogue.FIELDS if f"`{f.path}`" not in text]
    assert missing == []
