"""A store's password never reaches what a person or a log reads: however it is written in
the URL (after the user name, in the query, with an unencoded '@'), and whatever line
quotes it (an unknown or ambiguous option, a URL that cannot be parsed, an unreachable
store, `check`), in every command."""

from __future__ import annotations

import uuid

import pytest

from cli_helpers import clean_environment  # noqa: F401 - autouse: no SEMPERVIRENS_* of the caller
from cli_helpers import commands, has_subcommands, required_arguments, run, setting_names

LEAVES = {path: parser for path, parser in commands() if not has_subcommands(parser)}
CLIENT_ID = str(uuid.uuid4())
SECRET = "pw-Xq7zK"
WITH_DATABASE = [path for path, parser in LEAVES.items() if "database" in setting_names(parser)]
# The password in each place a URL can carry it, each as an operator may type it.
URLS = {
    "after the user name": f"postgresql://sv:{SECRET}@127.0.0.1:1/telemetry",
    "in the query": f"postgresql://sv@127.0.0.1:1/telemetry?password={SECRET}",
    "in a URL of libpq's keywords":
        f"postgresql:///t?host=127.0.0.1&port=1&user=sv&password={SECRET}",
    "with an unencoded @": f"postgresql://sv:{SECRET}@{SECRET}@127.0.0.1:1/telemetry",
    "in a URL that cannot be parsed": f"://sv:{SECRET}@127.0.0.1:1/telemetry",
    "in a port that is no number": f"postgresql://sv:{SECRET}@127.0.0.1:port/telemetry",
}


def _said(ran) -> str:
    assert "Traceback" not in ran.err
    return ran.out + ran.err


@pytest.mark.parametrize("path", list(LEAVES), ids=" ".join)
def test_an_unknown_option_holding_a_url_is_said_without_its_password(path, capsys):
    words = [*path, *required_arguments(LEAVES[path], CLIENT_ID)]
    for mistake in ([f"--no-such-option={URLS['after the user name']}"],
                    ["--no-such-option", URLS["in the query"]]):
        ran = run(capsys, *words, *mistake)
        assert ran.status == 2 and len(ran.err_lines) == 1, ran.err
        assert SECRET not in _said(ran)


@pytest.mark.parametrize("path", [p for p in WITH_DATABASE
                                  if "data_dir" in setting_names(LEAVES[p])], ids=" ".join)
def test_an_ambiguous_option_is_said_without_the_password(path, capsys):
    ran = run(capsys, *path, *required_arguments(LEAVES[path], CLIENT_ID),
              f"--data={URLS['after the user name']}")  # --data-dir or --database?
    assert ran.status == 2 and "ambiguous option" in ran.err, ran.err
    assert SECRET not in _said(ran)


@pytest.mark.parametrize("form", list(URLS))
@pytest.mark.parametrize("path", WITH_DATABASE, ids=" ".join)
def test_a_store_that_cannot_be_used_is_said_without_its_password(path, form, tmp_path, capsys):
    ran = run(capsys, *path, *required_arguments(LEAVES[path], CLIENT_ID),
              "--data-dir", str(tmp_path / "data"), "--database", URLS[form])
    assert ran.status != 0
    said = _said(ran)
    assert SECRET not in said
    if path != ("check",):  # check says one line per check, on stdout
        assert len(ran.err_lines) == 1, ran.err


@pytest.mark.parametrize("path", [p for p, parser in LEAVES.items()
                                  if "lake" in setting_names(parser)
                                  and "database" not in setting_names(parser)], ids=" ".join)
def test_a_lake_uri_is_said_without_its_secret(path, tmp_path, capsys):
    # An object store's URI may carry its key and secret as user and password.
    ran = run(capsys, *path, *required_arguments(LEAVES[path], CLIENT_ID),
              "--lake", f"nosuchfs://AKIDEXAMPLE:{SECRET}@bucket/lake")
    assert ran.status != 0 and len(ran.err_lines) == 1, ran.err
    assert "AKIDEXAMPLE:***@bucket" in ran.err and SECRET not in _said(ran)
