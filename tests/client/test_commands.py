"""The user's commands, as a user reads them."""

import json

import pytest
from client_helpers import read_spool, spooled

import sempervirens
from sempervirens.cli import main
from sempervirens.client import _consent


@pytest.fixture
def used(home):
    """A user of `demo` with one pending ping (the server is unreachable)."""
    telemetry = sempervirens.Telemetry("demo", version="3.0", endpoint="http://127.0.0.1:9")
    telemetry.count("io.read_csv")
    telemetry._end_period()
    return home


def test_status_says_where_everything_is(used, capsys):
    capsys.readouterr()
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    client_id = (used / "client_id").read_text().strip()
    assert f"installation id:  {client_id}" in out
    assert "demo 3.0: collecting (the project's default (opt-out))" in out
    assert "pending:          1 ping(s)" in out and str(used / "spool") in out


def test_status_names_the_environment_refusal(used, capsys, monkeypatch):
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    main(["status"])
    out = capsys.readouterr().out
    assert "DO_NOT_TRACK is set: nothing is recorded or sent" in out
    assert "demo 3.0: off (DO_NOT_TRACK is set)" in out


def test_opt_out_all_then_opt_in_one(used, capsys):
    assert main(["opt-out", "--all"]) == 0
    out = capsys.readouterr().out
    assert "usage statistics refused for all projects" in out
    # The pending usage ping is gone; an anonymous opt-out event waits for the server.
    [(header, body)] = read_spool(used)
    assert header["ping_type"] == "opt-out" and "client_id" not in json.loads(body)
    assert "will be sent later" in out
    assert main(["opt-in", "demo"]) == 0
    store = _consent.load(str(used))
    assert store["usage"] == {"global": "denied", "projects": {"demo": "granted"}}


def test_crash_report_decisions(used, capsys):
    assert main(["opt-in", "--crash-reports", "demo"]) == 0
    assert "crash reports allowed for demo" in capsys.readouterr().out
    assert _consent.crash_allowed(str(used), "demo") == "granted"
    assert len(spooled(used)) == 1  # deciding about crash reports leaves usage alone


def test_opt_out_needs_a_project_or_all(home, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["opt-out"])
    assert exit_info.value.code == 2
    assert "PROJECT" in capsys.readouterr().err


def test_show_prints_exactly_the_pending_bodies(used, capsys):
    capsys.readouterr()
    main(["show"])
    out = capsys.readouterr().out
    [(header, body)] = read_spool(used)
    assert f"POST http://127.0.0.1:9/submit/demo/usage/1/{header['document_id']}" in out
    pretty = out.split(header["document_id"], 1)[1].split("\n", 1)[1]
    assert json.loads(pretty) == json.loads(body)


def test_send_reports_what_stays(used, capsys):
    capsys.readouterr()
    assert main(["send"]) == 1
    out = capsys.readouterr().out
    assert "sent 0, kept 1 for later" in out and "127.0.0.1:9" in out
    assert len(spooled(used)) == 1


def test_forget_without_a_server_queues_the_request_and_changes_the_id(used, capsys):
    old = (used / "client_id").read_text().strip()
    assert main(["forget"]) == 0
    out = capsys.readouterr().out
    new = (used / "client_id").read_text().strip()
    assert new != old and f"new installation id: {new}" in out
    [(header, body)] = read_spool(used)
    assert header["ping_type"] == "deletion-request" and json.loads(body)["client_id"] == old
    assert "queued" in out
