"""No silent new stores: only `init` and `serve` create one; every other command
refuses a missing store naming where it looked, and says which stores it used."""

from __future__ import annotations

import pytest

from cli_helpers import run


def test_a_command_run_elsewhere_refuses_and_names_the_store_it_looked_for(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default --data-dir, ./sempervirens-data, is not here
    ran = run(capsys, "admin", "token", "create", "--role", "admin")
    assert ran.status != 0 and ran.out == ""
    expected = tmp_path / "sempervirens-data" / "telemetry.db"
    assert ran.err_lines == [f"sempervirens admin token create: no telemetry store at {expected}: run "
                             "`sempervirens init` (or `serve`) with the same settings first, or give "
                             "the right --data-dir or --config"]
    assert not (tmp_path / "sempervirens-data").exists()


def test_init_creates_the_stores_then_commands_say_which_they_used(tmp_path, capsys):
    data = ["--data-dir", str(tmp_path / "data")]
    ran = run(capsys, "init", *data)
    assert ran.status == 0, ran.err
    assert (tmp_path / "data" / "telemetry.db").is_file() and (tmp_path / "data" / "private.db").is_file()
    assert f"telemetry {tmp_path / 'data' / 'telemetry.db'}" in ran.err

    ran = run(capsys, "admin", "token", "create", "--role", "admin", *data)
    assert ran.status == 0 and ran.out.startswith("svt_")
    assert ran.err_lines[-1] == (f"sempervirens admin token create: stores: telemetry "
                                 f"{tmp_path / 'data' / 'telemetry.db'}, private {tmp_path / 'data' / 'private.db'}")
    assert run(capsys, "init", *data).status == 0  # again: nothing lost, schema up to date
    assert len(run(capsys, "admin", "token", "list", *data).out.splitlines()) == 1


def test_a_file_where_the_data_directory_should_be_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    ran = run(capsys, "init", "--data-dir", str(tmp_path / "file"))
    assert ran.status == 2 and ran.err_lines == [f"sempervirens init: --data-dir {tmp_path / 'file'}: not a directory"]


def test_an_unreachable_database_is_one_line_without_its_password(tmp_path, capsys):
    url = "postgresql://operator:hunter2@127.0.0.1:1/telemetry"
    ran = run(capsys, "purge", "--database", url, "--data-dir", str(tmp_path / "data"))
    assert ran.status != 0 and len(ran.err_lines) == 1, ran.err
    assert ran.err_lines[0].startswith("sempervirens purge: cannot reach the telemetry store at "
                                       "postgresql://operator:***@127.0.0.1:1/telemetry (OperationalError")
    assert "hunter2" not in ran.err


@pytest.mark.postgres
def test_an_empty_postgresql_database_is_refused_until_init(postgres, tmp_path, capsys):
    stores = ["--database", postgres.create_database("telemetry"),
              "--private-database", postgres.create_database("private"), "--data-dir", str(tmp_path)]
    ran = run(capsys, "admin", "project", "list", *stores)
    assert ran.status != 0 and len(ran.err_lines) == 1
    assert "no telemetry store at postgresql://sempervirens@" in ran.err_lines[0]
    assert "holds no Sempervirens tables" in ran.err_lines[0]
    assert run(capsys, "init", *stores).status == 0
    assert run(capsys, "admin", "project", "list", *stores).status == 0
