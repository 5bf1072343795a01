"""A path or an argument may hold a line break or a terminal's escape (a directory named so,
a pasted value): every command still says one line, that character written as its escape."""

from __future__ import annotations

import uuid

import pytest

from cli_helpers import clean_environment  # noqa: F401 - autouse: no SEMPERVIRENS_* of the caller
from cli_helpers import commands, has_subcommands, required_arguments, run, setting_names

LEAVES = {path: parser for path, parser in commands() if not has_subcommands(parser)}
CLIENT_ID = str(uuid.uuid4())
ODD = "a\nsempervirens: all is well\x1b[2J\u202e"  # a second line, a screen cleared, reversed
ESCAPED = "a\\nsempervirens: all is well\\x1b[2J\\u202e"


def _one_line(ran) -> str:
    assert ran.status != 0 and "Traceback" not in ran.err
    assert len(ran.err_lines) == 1, ran.err
    line = ran.err_lines[0]
    assert "\x1b" not in line and "\u202e" not in line, line
    assert "all is well" not in line or ESCAPED in line, line  # named, then escaped
    return line


@pytest.mark.parametrize("path", [p for p, parser in LEAVES.items()
                                  if "data_dir" in setting_names(parser)
                                  and p not in (("serve",), ("init",))], ids=" ".join)
def test_a_data_directory_with_a_line_break_is_said_on_one_line(path, tmp_path, capsys):
    _one_line(run(capsys, *path, *required_arguments(LEAVES[path], CLIENT_ID),
                  "--data-dir", str(tmp_path / ODD)))


@pytest.mark.parametrize("path", [p for p, parser in LEAVES.items()
                                  if "lake" in setting_names(parser)
                                  and "database" not in setting_names(parser)], ids=" ".join)
def test_a_lake_with_a_line_break_is_said_on_one_line(path, tmp_path, capsys):
    _one_line(run(capsys, *path, *required_arguments(LEAVES[path], CLIENT_ID),
                  "--lake", str(tmp_path / ODD)))


@pytest.mark.parametrize("path", list(LEAVES), ids=" ".join)
def test_an_unknown_argument_with_a_line_break_is_said_on_one_line(path, capsys):
    _one_line(run(capsys, *path, *required_arguments(LEAVES[path], CLIENT_ID), "--x", ODD))


def test_a_configuration_file_and_the_stores_said_on_success_stay_on_one_line(tmp_path, capsys):
    _one_line(run(capsys, "admin", "token", "list", "--config", str(tmp_path / ODD)))
    data = ["--data-dir", str(tmp_path / ODD)]
    made = run(capsys, "init", *data)
    assert made.status == 0 and len(made.err_lines) == 1, made.err
    listed = run(capsys, "admin", "token", "list", *data)
    assert listed.status == 0 and len(listed.err_lines) == 1, listed.err
    assert ESCAPED in listed.err_lines[0]
