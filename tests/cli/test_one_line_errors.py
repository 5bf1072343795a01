"""As an operator runs them (a subprocess): one line, non-zero, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from cli_helpers import run, run_process


def test_port_out_of_range_is_refused_not_replaced(tmp_path):
    result = run_process("serve", "--port", "70000", "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 2
    assert result.stderr == "sempervirens serve: --port 70000: must be from 1 to 65535\n"


def test_a_bad_value_is_one_line_not_argparse_usage(tmp_path):
    result = run_process("aggregate", "--dp-epsilon-day", "many")
    assert result.returncode == 2
    assert result.stderr == ("sempervirens aggregate: argument --dp-epsilon-day: invalid float "
                             "value: 'many' (see `sempervirens aggregate --help`)\n")


def test_a_closed_pipe_ends_quietly(tmp_path):
    read, write = os.pipe()
    os.close(read)  # `sempervirens status | head -0`: the reader is gone before anything is written
    try:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("SEMPERVIRENS_")}
        environ["SEMPERVIRENS_HOME"] = str(tmp_path / "home")
        result = subprocess.run([sys.executable, "-m", "sempervirens", "status"], stdout=write,
                                stderr=subprocess.PIPE, text=True, env=environ, timeout=60)
    finally:
        os.close(write)
    assert result.returncode != 0
    assert result.stderr == ""  # no traceback, not even "Exception ignored"


def test_a_failure_inside_a_command_is_one_line(tmp_path, capsys):
    data = ["--data-dir", str(tmp_path / "data")]
    assert run(capsys, "init", *data).status == 0
    ran = run(capsys, "admin", "export", str(uuid.uuid4()), "-o", str(tmp_path / "no" / "such" / "dir.json"),
              *data)
    assert ran.status == 1 and len(ran.err_lines) == 1
    assert ran.err_lines[0].startswith("sempervirens admin export: failed (FileNotFoundError")


def test_a_store_that_is_not_a_database_is_one_line(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "telemetry.db").write_text("not a database")
    (tmp_path / "data" / "private.db").write_text("not a database")
    result = run_process("admin", "project", "list", "--data-dir", str(tmp_path / "data"))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("sempervirens admin project list: cannot reach the telemetry store at ")


def test_a_number_past_what_a_store_holds_is_refused_before_the_command_runs(tmp_path, capsys):
    # They reached SQL and failed there with OverflowError, after the command had begun
    # (`admin audit` had written its own audit row, then listed nothing).
    data = ["--data-dir", str(tmp_path / "data")]
    assert run(capsys, "init", *data).status == 0
    (tmp_path / "notice.md").write_text("A notice.\n")
    huge = "9" * 23
    counts = ["--complied-in-part", "0", "--complied-in-full", "0"]
    for words in (["admin", "audit", "--limit", huge],
                  ["admin", "policy", "show", huge],
                  ["admin", "notice", "post", "--kind", "service", "--title", "t",
                   "--body", str(tmp_path / "notice.md"), "--corrects", huge],
                  ["admin", "transparency", "record", "--quarter", "2026Q1", "--received", huge,
                   *counts, "--rejected", huge],
                  ["anomalies", "--min-clients", huge]):
        ran = run(capsys, *words, *data)
        assert ran.status == 2 and len(ran.err_lines) == 1, ran.err
        assert "must be at most" in ran.err and "Overflow" not in ran.err
    listed = run(capsys, "admin", "audit", *data)
    assert listed.status == 0 and len(listed.out.splitlines()) == 1  # this listing's own row
