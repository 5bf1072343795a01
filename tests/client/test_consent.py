"""The user's decision always wins; the notice is shown once."""

import json

import pytest
from client_helpers import spooled

import sempervirens
from sempervirens.client import _consent, _telemetry


def _use(project, consent="opt-out"):
    telemetry = sempervirens.Telemetry(
        project, version="1.0", endpoint="http://127.0.0.1:9", consent=consent
    )
    telemetry.count("x")
    telemetry._end_period()
    return telemetry


def test_opt_out_project_collects_after_one_notice(home, capsys):
    _use("noticed")
    first = capsys.readouterr()
    assert "sempervirens opt-out noticed" in first.err and "DO_NOT_TRACK" in first.err
    assert first.out == ""
    assert len(spooled(home)) == 1
    _telemetry._reset()
    _use("noticed")
    assert capsys.readouterr().err == ""  # once per user and project, not per run
    assert len(spooled(home)) == 2


def test_opt_in_project_records_nothing_until_granted(home, capsys):
    telemetry = _use("careful", consent="opt-in")
    assert telemetry.enabled is False and spooled(home) == []
    assert capsys.readouterr().err == ""  # nothing to announce: nothing is collected
    assert telemetry.opt_in()
    telemetry.count("x")
    telemetry._end_period()
    assert len(spooled(home)) == 1


@pytest.mark.parametrize("variable", ["DO_NOT_TRACK", "SEMPERVIRENS_OPT_OUT"])
def test_environment_refusal_beats_a_grant(home, monkeypatch, variable):
    _consent_dir = str(home)
    home.mkdir()
    _consent.update(_consent_dir, "usage", "eager", _consent.GRANTED)
    monkeypatch.setenv(variable, "1")
    assert _use("eager").enabled is False
    assert spooled(home) == []


def test_project_decision_beats_global_and_default(home):
    home.mkdir()
    _consent.update(str(home), "usage", None, _consent.DENIED)
    _consent.update(str(home), "usage", "liked", _consent.GRANTED)
    assert _use("liked").enabled is True
    assert _use("other").enabled is False
    assert [p.name.split(".", 3)[3] for p in spooled(home)] == ["liked.ping"]


def test_global_decision_clears_project_answers(home):
    home.mkdir()
    _consent.update(str(home), "usage", "liked", _consent.GRANTED)
    _consent.update(str(home), "usage", None, _consent.DENIED)  # opt-out --all
    assert _use("liked").enabled is False


@pytest.mark.parametrize("content", [b"{not json", b"[]", b"\x00\x01"])
def test_corrupted_consent_file_means_no(home, content, capsys):
    home.mkdir()
    (home / "consent.json").write_bytes(content)
    assert _use("unsure").enabled is False
    assert spooled(home) == [] and capsys.readouterr().err == ""


def test_opting_out_later_stops_a_running_process(home):
    telemetry = _use("changing")
    telemetry.count("y")
    _consent.update(
        str(home), "usage", "changing", _consent.DENIED
    )  # `sempervirens opt-out` elsewhere
    telemetry._end_period()
    assert len(spooled(home)) == 1  # only the ping from before the refusal...
    telemetry.opt_out()
    headers = [json.loads(p.read_bytes().partition(b"\n")[0]) for p in spooled(home)]
    assert [
        h["ping_type"] for h in headers
    ] == []  # ...and it is deleted; nothing was collecting: no event


def test_opt_out_from_the_api_deletes_pending_data_and_queues_one_anonymous_event(home):
    telemetry = _use("leaving")  # collecting, with one usage ping pending
    telemetry.count("more")
    assert telemetry.opt_out() is True
    pending = [json.loads(p.read_bytes().partition(b"\n")[2]) for p in spooled(home)]
    headers = [json.loads(p.read_bytes().partition(b"\n")[0]) for p in spooled(home)]
    assert [h["ping_type"] for h in headers] == ["opt-out"]
    assert "client_id" not in pending[0]
    telemetry.count("after")  # recorded nowhere
    telemetry._end_period()
    assert len(spooled(home)) == 1 and telemetry.enabled is False


def test_a_user_who_opts_out_again_the_same_day_is_counted_once(home):
    # The published opt-out count assumes one an installation a day (no id bounds it).
    telemetry = _use("toggling")
    for _ in range(3):
        telemetry.opt_in()
        telemetry.count("again")
        assert telemetry.opt_out() is True
    headers = [json.loads(p.read_bytes().partition(b"\n")[0]) for p in spooled(home)]
    assert [h["ping_type"] for h in headers] == ["opt-out"]
    other = _use("another")  # another project the same day: its own opt-out
    other.opt_out()
    headers = [json.loads(p.read_bytes().partition(b"\n")[0]) for p in spooled(home)]
    assert sorted(h["project"] for h in headers) == ["another", "toggling"]


def test_a_timed_function_follows_consent_given_after_it_was_decorated(home, capsys):
    telemetry = sempervirens.Telemetry(
        "decorated", version="1.0", endpoint="http://127.0.0.1:9", consent="opt-in"
    )

    @telemetry.timer("solve")  # at import time: decides nothing yet
    def solve():
        return 42

    assert telemetry._on is None and not home.exists()
    assert solve() == 42  # not opted in: not timed
    telemetry._end_period()
    assert spooled(home) == []
    telemetry.opt_in()
    solve()
    telemetry._end_period()
    [ping] = spooled(home)
    assert json.loads(ping.read_bytes().split(b"\n", 1)[1])["metrics"]["timings"]["solve"][
        "count"
    ] == 1
    telemetry.opt_out()
    solve()
    telemetry._end_period()
    # The opt-out deleted the pending ping and queued its anonymous event; nothing new.
    assert [p.name.split(".")[2] for p in spooled(home)] == ["opt-out"]
    assert capsys.readouterr().err == ""


def test_decorating_shows_no_notice_before_the_first_call(home, capsys):
    telemetry = sempervirens.Telemetry("lazy", version="1.0", endpoint="http://127.0.0.1:9")
    timed = telemetry.timer("solve")(lambda: 1)
    assert capsys.readouterr().err == "" and not home.exists()
    timed()
    assert "sempervirens opt-out lazy" in capsys.readouterr().err


# -- one project, however it is spelled (the server's PEP 503 key) ------------------

@pytest.mark.parametrize("maintainer, user", [("Scikit_Learn", "scikit-learn"),
                                              ("scikit-learn", "SCIKIT.LEARN"),
                                              ("zope.interface", "Zope__Interface")])
def test_an_opt_out_under_another_spelling_of_the_project_stops_it(home, maintainer, user):
    from sempervirens.cli import main

    _use(maintainer)
    assert len(spooled(home)) == 1
    assert main(["opt-out", user]) == 0
    assert spooled(home) == [] or all("opt-out" in p.name for p in spooled(home))
    telemetry = _use(maintainer)
    assert telemetry.enabled is False
    assert [p for p in spooled(home) if "opt-out" not in p.name] == []


def test_a_refusal_recorded_under_an_old_spelling_still_wins(home):
    """consent.json of an older client, which kept the name as each program gave it: a
    grant and a refusal of one project under two spellings; the refusal wins."""
    home.mkdir()
    (home / "consent.json").write_text(json.dumps({
        "usage": {"global": None, "projects": {"Scikit_Learn": "denied",
                                               "scikit-learn": "granted"}},
        "crash": {"global": None, "projects": {}}, "notices": {}}))
    assert _use("scikit-learn").enabled is False
    assert _use("SciKit.Learn").enabled is False
    assert spooled(home) == []


def test_an_opt_out_deletes_pings_spooled_under_another_spelling(home):
    from sempervirens.client import _actions
    from sempervirens.client._spool import Spool

    home.mkdir()
    Spool(str(home)).put("http://127.0.0.1:9", "Scikit_Learn", "usage", b"{}")  # an older client's
    _actions.opt_out(str(home), "scikit-learn")
    assert [p for p in spooled(home) if "opt-out" not in p.name] == []


def test_opt_out_of_something_that_is_no_project_name_is_refused_in_one_line(home, capsys):
    from sempervirens.cli import main

    assert main(["opt-out", "evil\x1b[31mred"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "is not a project name" in err
    assert not (home / "consent.json").exists()
