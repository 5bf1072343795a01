"""A project's metrics file: parsed without surprises, stored with the project, read back
exactly as registered (what the aggregation publishes and the catalogue shows)."""

from __future__ import annotations

import re
from datetime import date, datetime, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from sempervirens.admin import projects
from sempervirens.model.declarations import KINDS, Declaration, DeclarationError, Metric, parse
from sempervirens.store import migrations, open_stores

EXAMPLE = """
versions = ["1.0", "2.0"]
crash_kinds = ["ValueError", "mypkg.errors.BadInput"]

[metrics."io.read_csv"]
kind = "counter"
description = "Calls of read_csv."
unit = "calls"

[metrics."io.format"]
kind = "labeled_counter"
description = "Files read, by format."
labels = ["csv", "parquet"]
"""


# -- the parser ----------------------------------------------------------------------

# Pieces of TOML, valid and not, that the parser's checks look at.
FRAGMENTS = ["versions", "crash_kinds", "metrics", "kind", "description", "unit", "labels",
             '"counter"', '"labeled_counter"', '"timing"', '"io.read_csv"', '"1.0"', '"x"',
             '"ValueError"', '"Bad Name"', '""', "'lit'", '"""', "[", "]", "[[", "]]", "{", "}",
             "=", ",", ".", " ", "\n", "#", "1", "1.0", "-", "true", "nan", "inf",
             "1979-05-27", "07:32:00", "T", "Z", "\\", "\\u00e9", "é", "\t", "\x00", "\r\n"]
toml_ish = st.one_of(st.lists(st.sampled_from(FRAGMENTS), max_size=60).map("".join), st.text())

NAMES = ["io.read_csv", "io.format", "solve", "Bad Name", "x" * 200, "", "a..b", "é"]
scalars = st.one_of(st.sampled_from([*KINDS, "gauge", "1.0", "2.10", "v1", "ValueError",
                                     "csv", "CSV", " ", "", "a" * 70, "a" * 1001]),
                    st.text(max_size=20), st.integers(), st.floats(), st.booleans(),
                    st.dates(), st.times(), st.datetimes())
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from(["kind", "description", "unit", "labels", "other"]),
                              st.sampled_from(NAMES), st.text(max_size=8)), inner, max_size=5)),
    max_leaves=20)
documents = st.dictionaries(
    st.sampled_from(["versions", "crash_kinds", "metrics", "metrics", "other"]),
    st.one_of(values, st.dictionaries(st.sampled_from(NAMES), values, max_size=4)), max_size=4)


def _toml_value(value) -> str:
    """A TOML inline value (dates and datetimes included) for the structured inputs."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(value), repr(value))
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    if isinstance(value, str):
        return projects._toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{projects._toml_string(k)} = {_toml_value(v)}"
                           for k, v in value.items()) + "}"


def _parse_or_refuse(source: str) -> Declaration | None:
    try:
        return parse(source, "metrics.toml")
    except DeclarationError as error:
        assert str(error).startswith("metrics.toml: ") and "\n" not in str(error)
        return None


def _round_trips(declaration: Declaration) -> None:
    assert Declaration.from_json(declaration.to_json()) == declaration
    assert parse(projects.to_toml(declaration)) == declaration  # `admin project show`


@settings(max_examples=300)
@given(toml_ish)
def test_the_parser_raises_only_declaration_errors_on_toml_ish_text(source):
    declaration = _parse_or_refuse(source)
    if declaration is not None:
        _round_trips(declaration)


@settings(max_examples=300)
@given(documents)
def test_the_parser_raises_only_declaration_errors_on_any_toml_document(document):
    source = "\n".join(f"{projects._toml_string(k)} = {_toml_value(v)}" for k, v in document.items())
    declaration = _parse_or_refuse(source)
    if declaration is not None:
        _round_trips(declaration)


# Any character but the controls and bidirectional ones no published text may hold.
showable = st.characters(exclude_categories=("Cs", "Cc"),
                         exclude_characters=[chr(c) for c in (*range(0x202A, 0x202F),
                                                              *range(0x2066, 0x206A))])
labels = st.lists(st.from_regex(r"[a-z0-9][a-z0-9_.\-]{0,20}", fullmatch=True), min_size=1,
                  max_size=5, unique=True)
metric = st.builds(
    lambda name, kind, description, unit, labels: {
        "kind": kind, "description": description, "unit": unit,
        **({"labels": labels} if kind == "labeled_counter" else {})},
    st.from_regex(r"[a-z][a-z0-9_]{0,10}(\.[a-z0-9_]{1,10}){0,3}", fullmatch=True),
    st.sampled_from(KINDS),
    st.text(showable, min_size=1, max_size=80).filter(str.strip),
    st.text(showable, max_size=32), labels)
valid = st.fixed_dictionaries({
    "versions": st.lists(st.from_regex(r"[0-9]{1,3}\.[0-9]{1,3}", fullmatch=True), unique=True,
                         max_size=5),
    "crash_kinds": st.lists(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}(\.[A-Za-z_][A-Za-z0-9_]{0,8}){0,2}",
                                          fullmatch=True), unique=True, max_size=4),
    "metrics": st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,10}(\.[a-z0-9_]{1,10}){0,3}",
                                             fullmatch=True), metric, max_size=6),
})


@settings(max_examples=200)
@given(valid)
def test_every_valid_file_is_accepted_and_round_trips(document):
    source = "\n".join(f"{projects._toml_string(k)} = {_toml_value(v)}" for k, v in document.items())
    declaration = parse(source, "metrics.toml")
    assert {m.name for m in declaration.metrics} == set(document["metrics"])
    assert declaration.versions == tuple(document["versions"])
    _round_trips(declaration)


def test_a_file_saved_with_a_byte_order_mark_reads_as_without():
    assert parse("\ufeff" + EXAMPLE, "metrics.toml") == parse(EXAMPLE, "metrics.toml")


def test_deep_nesting_is_a_declaration_error_not_a_crash():
    with pytest.raises(DeclarationError, match="metrics.toml"):
        parse("versions = " + "[" * 5000, "metrics.toml")


@pytest.mark.parametrize("source, message", [
    ("versions = [1.0]", "versions: must be a list of strings"),
    ('versions = ["1"]', "'1' is not a major.minor version"),
    ('[metrics."Bad Name"]\nkind = "counter"\ndescription = "x"', "lower-case dotted snake case"),
    ('[metrics.a]\nkind = "gauge"\ndescription = "x"', "kind must be one of"),
    ('[metrics.a]\nkind = "counter"', "needs a description"),
    ('[metrics.a]\nkind = "labeled_counter"\ndescription = "x"\nlabels = []', "lists 1-100 labels"),
    ('[metrics.a]\nkind = "counter"\ndescription = "x"\nlabels = ["a"]', "only a labeled_counter"),
    ("owner = 'me'", "unknown key 'owner'"),
    ("versions = [", "not valid TOML"),
    ('versions = ["1.0", "1.0"]', "listed twice: '1.0'"),
    ('[metrics.a]\nkind = "counter"\ndescription = "x"\nowner = "me"', "unknown key 'owner'"),
    ('[metrics.a]\nkind = "counter"\ndescription = "x"\nunit = "' + "u" * 33 + '"',
     "unit must be a short string"),
    ("".join(f'[metrics.m{i}]\nkind = "counter"\ndescription = "x"\n' for i in range(501)),
     "at most 500 metrics"),
    # Published on the catalogue page and printed by `admin project show` (model/text.py).
    ('[metrics.a]\nkind = "counter"\ndescription = "x\\u0000"', "the description holds U+0000"),
    ('[metrics.a]\nkind = "counter"\ndescription = "x\\u001b[2J"', "the description holds U+001B"),
    ('[metrics.a]\nkind = "counter"\ndescription = "x\\u009b2J"', "the description holds U+009B"),
    ('[metrics.a]\nkind = "counter"\ndescription = "cod\\u202Egpj.exe"',
     "the description holds U+202E"),
    ('[metrics.a]\nkind = "timing"\ndescription = "x"\nunit = "m\\ns"', "the unit holds U+000A"),
])
def test_bad_files_are_refused_naming_the_entry(source, message):
    with pytest.raises(DeclarationError, match="^metrics.toml: .*" + re.escape(message)):
        parse(source, "metrics.toml")


# -- storage -------------------------------------------------------------------------

@pytest.fixture
def stores(tmp_path):
    opened = open_stores(tmp_path / "data")
    yield opened
    opened.dispose()


def test_a_declaration_is_stored_with_its_project_and_read_back(stores):
    declaration = parse(EXAMPLE)
    projects.add(stores, "MyPkg", declaration=declaration)
    projects.add(stores, "other")  # registered, declares nothing
    assert projects.declaration(stores.telemetry, "mypkg") == declaration
    assert projects.declaration(stores.telemetry, "MYPKG") == declaration  # any spelling
    with stores.telemetry.connect() as connection:
        assert projects.declaration(connection, "mypkg") == declaration
        assert projects.declared_at(connection, "mypkg") is not None
        assert projects.declared_at(connection, "other") is None
    assert projects.declaration(stores.telemetry, "other") is None
    assert projects.declaration(stores.telemetry, "never-registered") is None
    assert projects.declaration(stores.telemetry, "not a name!") is None
    assert projects.declarations(stores.telemetry) == {"mypkg": declaration}


def test_declare_replaces_says_whether_it_changed_and_refuses_unknown_projects(stores):
    first, second = parse(EXAMPLE), parse(EXAMPLE.replace('"2.0"', '"2.0", "2.1"'))
    projects.add(stores, "mypkg", declaration=first)
    with stores.telemetry.connect() as connection:
        declared = projects.declared_at(connection, "mypkg")
    assert projects.declare(stores, "mypkg", first) is False  # the same file again
    with stores.telemetry.connect() as connection:
        assert projects.declared_at(connection, "mypkg") == declared  # unchanged
    assert projects.declare(stores, "MyPkg", second) is True
    assert projects.declarations(stores.telemetry)["mypkg"].versions == ("1.0", "2.0", "2.1")
    with stores.telemetry.connect() as connection:
        assert projects.declared_at(connection, "mypkg") > declared
    with pytest.raises(projects.NotRegistered):
        projects.declare(stores, "unknown", first)
    assert projects.declarations(stores.telemetry).keys() == {"mypkg"}


def test_add_with_another_declaration_is_refused_and_changes_nothing(stores):
    first = parse(EXAMPLE)
    projects.add(stores, "plain")
    projects.add(stores, "plain", declaration=first)  # declared nothing yet: takes it
    assert projects.declaration(stores.telemetry, "plain") == first
    projects.add(stores, "plain", declaration=first)  # the same again: fine
    with pytest.raises(projects.AlreadyDeclared, match="admin project update plain"):
        projects.add(stores, "plain", declaration=Declaration())
    assert projects.declaration(stores.telemetry, "plain") == first


def test_changes_name_each_difference():
    old = parse(EXAMPLE)
    new = parse(EXAMPLE.replace('"csv", "parquet"', '"csv", "json"').replace('"1.0", ', "")
                .replace('"ValueError", ', "").replace("io.read_csv", "io.read_json"))
    assert projects.changes(old, new) == [
        "metric added: io.read_json (counter)",
        "metric removed: io.read_csv (counter)",
        "metric io.format: label added: json",
        "metric io.format: label removed: parquet",
        "version removed: 1.0",
        "crash kind removed: ValueError",
    ]
    assert projects.changes(None, Declaration((Metric("a", "timing", "t"),))) == \
        ["metric added: a (timing)"]


def test_a_store_made_before_declarations_is_migrated(tmp_path, store_kind, request):
    """0008 adds the two columns to a `projects` table made without them; its rows stay."""
    urls = (None, None)
    if store_kind == "postgresql":
        cluster = request.getfixturevalue("postgres")
        urls = cluster.create_database("telemetry"), cluster.create_database("private")
    stores = open_stores(tmp_path / "data", *urls, migrate=False)
    try:
        migrations.upgrade(stores.telemetry, "telemetry", "0007")  # as 0001-0007 left it
        migrations.upgrade(stores.private, "private")
        with stores.telemetry.begin() as connection:
            connection.execute(text("INSERT INTO projects VALUES ('old', '2026-01-01 00:00:00+00:00')"))
    finally:
        stores.dispose()
    stores = open_stores(tmp_path / "data", *urls)
    try:
        assert projects.declaration(stores.telemetry, "old") is None
        assert projects.declare(stores, "old", parse(EXAMPLE)) is True
        assert projects.declarations(stores.telemetry) == {"old": parse(EXAMPLE)}
    finally:
        stores.dispose()


def test_the_documented_example_is_a_valid_metrics_file():
    from pathlib import Path

    docs = Path(__file__).parents[2] / "docs"
    example = parse((docs / "examples" / "metrics.toml").read_text(encoding="utf-8"))
    assert {m.name for m in example.metrics} >= {"io.read_csv", "io.read", "solve"}
    guide = (docs / "integrating.md").read_text(encoding="utf-8")
    section = guide.split("## Declaring what you collect")[1].split("\n## ")[0]
    excerpt = section.split("```toml\n")[1].split("```")[0]
    parsed = parse(excerpt)  # the excerpt in the guide is valid, and agrees with the file
    assert all(example.by_name[m.name] == m for m in parsed.metrics)
    assert parsed.versions == example.versions and parsed.crash_kinds == example.crash_kinds


def test_allows_agrees_with_rows_and_replace_rebuilds_the_index():
    import dataclasses

    declaration = parse(EXAMPLE)
    for row in declaration.rows():
        assert declaration.allows(*row), row
    assert not declaration.allows("crash", "KeyError") and not declaration.allows("version", "3.0")
    assert not declaration.allows("counter", "io.format") and not declaration.allows(
        "labeled_counter", "io.format", "xls")
    emptied = dataclasses.replace(declaration, metrics=())
    assert emptied.by_name == {} and not emptied.allows("counter", "io.read_csv")
    assert declaration.allows("counter", "io.read_csv")  # the original is untouched
