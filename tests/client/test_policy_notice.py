"""A server's policy change or security notice: shown once, on the next run, pings held
until then; `sempervirens status` says what was seen (issue 22, the client's side)."""

import time

import pytest
from _fault_server import FaultServer
from client_helpers import assert_clean, clean_env, run_command, run_host, spooled

from sempervirens.client import _policy, _wire

HOST = """\
import sempervirens
sempervirens.Telemetry("hostpkg", version="1.0", endpoint={url!r}).count("io.read_csv")
"""


def _policy_answer(version, material, security=None):
    headers = {_wire.POLICY_VERSION: str(version), _wire.POLICY_MATERIAL: str(material)}
    if security is not None:
        headers[_wire.SECURITY_NOTICE] = str(security)
    return (202, headers)


def _wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def policy_server():
    server = FaultServer([_policy_answer(1, 1)])
    yield server
    server.close()


def _run(server, env):
    result = run_host(HOST.format(url=server.url), env)
    assert_clean(result)
    return result.stderr


def _status(env):
    done = run_command(env, "status", timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_a_material_change_is_shown_once_and_holds_pings_until_shown(tmp_path, policy_server):
    home = tmp_path / "home"
    env = clean_env(SEMPERVIRENS_HOME=str(home), SEMPERVIRENS_EXIT_TIMEOUT="5")
    server = policy_server
    assert "sempervirens opt-out hostpkg" in _run(server, env)  # the first-run notice
    # The second run sends both pings; version 1 is recorded silently (already covered).
    assert _run(server, env) == ""
    assert _wait_for(lambda: len(server.requests) == 2)
    assert "privacy policy: version 1 last seen" in _status(env)
    assert "not shown yet" not in _status(env)

    # The server publishes a material version 2: the next answer says so, and what
    # this run records afterwards waits (the user has not been told yet).
    server.answers = [_policy_answer(2, 2)]
    learning = run_host(f"""\
        import os, sempervirens
        t = sempervirens.Telemetry("hostpkg", version="1.0", endpoint={server.url!r})
        t.count("before")
        t.flush()
        while os.listdir({str(home / "spool")!r}) != ["dropped.json.lock"]:
            time.sleep(0.05)  # sent: the answer told of version 2
        t.count("after")
    """, env)
    assert_clean(learning)
    assert learning.stderr == "" and len(server.requests) == 3
    assert len(spooled(home)) == 1  # held
    status = _status(env)
    assert "privacy policy: version 2 last seen" in status
    assert "a material change (version 2) not shown yet" in status

    # The next run shows it, once: the URL of the changes and how to opt out.
    shown = _run(server, env)
    assert f"{server.url}/privacy/policy/v2/changes" in shown
    assert "sempervirens opt-out hostpkg" in shown and "opt-out --all" in shown
    assert len(server.requests) == 3  # and that run sends nothing: time to say no
    assert "not shown yet" not in _status(env)

    # Then never again, and everything held goes.
    assert _run(server, env) == ""
    assert _wait_for(lambda: len(server.requests) == 6)
    assert spooled(home) == []
    assert "after" in server.requests[3]["body"]["metrics"]["counters"]
    assert _run(server, env) == ""


@pytest.mark.slow
def test_a_security_notice_is_shown_once_with_its_url(tmp_path, policy_server):
    home = tmp_path / "home"
    env = clean_env(SEMPERVIRENS_HOME=str(home), SEMPERVIRENS_EXIT_TIMEOUT="5")
    server = policy_server
    server.answers = [_policy_answer(3, 2, security=4)]
    _run(server, env)  # first run: notice, pings held
    assert _run(server, env) == ""  # first answer: recorded silently, security 4 included
    assert _wait_for(lambda: len(server.requests) == 2)
    server.answers = [_policy_answer(3, 2, security=5)]
    assert _run(server, env) == ""
    assert _wait_for(lambda: len(server.requests) == 3)
    assert "security notice 5 not shown yet" in _status(env)
    shown = _run(server, env)
    assert f"{server.url}/notices/5" in shown and "/privacy/policy" not in shown
    assert _run(server, env) == ""


def test_the_first_answer_of_an_endpoint_is_recorded_silently(tmp_path):
    data_dir = str(tmp_path)
    _policy.record(data_dir, "https://a.example", (4, 3, 9))
    assert _policy.claim(data_dir, "https://a.example") == {}
    assert not _policy.holds(data_dir, "https://a.example")
    _policy.record(data_dir, "https://a.example", (4, 3, None))  # no notice: keeps 9
    _policy.record(data_dir, "https://b.example", (1, 1, None))
    _policy.record(data_dir, "https://a.example", (5, 5, None))
    assert _policy.holds(data_dir, "https://a.example")
    assert not _policy.holds(data_dir, "https://b.example")  # per endpoint
    assert _policy.claim(data_dir, "https://a.example") == {"material": 5}
    assert _policy.claim(data_dir, "https://a.example") == {}  # once
    assert _policy.holds(data_dir, "https://a.example")  # while this run (this process) runs


def test_policy_headers_are_read_only_when_well_formed():
    from sempervirens.client._transport import _policy_headers

    version, material, security = (
        _wire.POLICY_VERSION.lower(), _wire.POLICY_MATERIAL.lower(), _wire.SECURITY_NOTICE.lower()
    )
    assert _policy_headers({version: "3", material: "2"}) == (3, 2, None)
    assert _policy_headers({version: "3", material: "x", security: "²"}) == (3, None, None)
    assert _policy_headers({}) == ()
