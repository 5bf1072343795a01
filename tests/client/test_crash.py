"""Crash reports: scrubbed, shown, and sent only with the user's permission."""

import getpass
import json
import os
import socket
import sys

import sempervirens
from sempervirens.client import _consent, _crash
from sempervirens.protocol import validate_ping
from conftest import read_spool, spooled


def test_scrubs_what_could_identify_the_user(monkeypatch):
    home = os.path.expanduser("~")
    host = socket.gethostname()
    monkeypatch.setenv("USER", "ada_lovelace")
    text = (f'File "{home}/project/analysis.py", line 3\n'
            'File "/home/grace/src/x.py" and C:\\Users\\alan\\x.py and /Users/katherine/y.py\n'
            f"ConnectionError: ada_lovelace@{host} could not reach 192.168.10.42 or fe80::1ff:fe23:4567:890a "
            "or ::1, mail ada.lovelace@example.ac.uk; at 12:30:01 version 1.2.3.4.5\n")
    scrubbed = _crash.scrub(text)
    for secret in (home + "/", "grace", "alan", "katherine", "ada_lovelace", "192.168.10.42",
                   "fe80::1ff", "example.ac.uk", "::1,"):
        assert secret not in scrubbed, secret
    if len(host) >= 3:
        assert host not in scrubbed
    assert "~/project/analysis.py" in scrubbed
    assert "12:30:01" in scrubbed and "1.2.3.4.5" in scrubbed  # times and versions stay readable


def _crash_in_pkg():
    try:
        raise ValueError(f"cannot open {os.path.expanduser('~')}/secret.csv for {getpass.getuser()}")
    except ValueError as error:
        return error


def test_no_report_without_permission_when_not_interactive(home):
    telemetry = sempervirens.Telemetry("crashy", version="1.0", endpoint="http://127.0.0.1:9")
    assert telemetry.report_crash(_crash_in_pkg()) is False
    assert spooled(home) == []


def test_standing_yes_sends_the_scrubbed_report(home):
    home.mkdir()
    _consent.update(str(home), "crash", "crashy", _consent.GRANTED)
    telemetry = sempervirens.Telemetry("crashy", version="1.0", endpoint="http://127.0.0.1:9")
    assert telemetry.report_crash(_crash_in_pkg()) is True
    [(header, body)] = read_spool(home)
    ping = validate_ping(header["ping_type"], json.loads(body))
    assert ping.crash_type == "ValueError"
    assert "~/secret.csv" in ping.crash_traceback
    assert os.path.expanduser("~") + "/" not in ping.crash_traceback


def test_no_crash_report_when_usage_is_refused(home, monkeypatch):
    home.mkdir()
    _consent.update(str(home), "crash", None, _consent.GRANTED)
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    telemetry = sempervirens.Telemetry("crashy", version="1.0")
    assert telemetry.report_crash(_crash_in_pkg()) is False
    assert spooled(home) == []


def test_excepthook_offers_only_the_projects_own_crashes(home, monkeypatch):
    home.mkdir()
    _consent.update(str(home), "crash", "crashy", _consent.GRANTED)
    seen = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: seen.append(exc[0]))
    telemetry = sempervirens.Telemetry("crashy", version="1.0", endpoint="http://127.0.0.1:9")
    telemetry.install_excepthook(package="test_crash")  # this module plays the project's package
    error = _crash_in_pkg()
    sys.excepthook(ValueError, error, error.__traceback__)
    outside = KeyError("user code")
    sys.excepthook(KeyError, outside, None)
    assert seen == [ValueError, KeyError]  # the previous hook still prints every traceback
    assert [h["ping_type"] for h, _ in read_spool(home)] == ["crash"]


def test_exception_type_names_are_dotted_python_names():
    class Local(Exception):
        pass

    assert _crash.exception_type(KeyError()) == "KeyError"
    assert _crash.exception_type(json.JSONDecodeError("m", "d", 0)) == "json.decoder.JSONDecodeError"
    name = _crash.exception_type(Local())
    validate_ping("crash", {"client_id": "0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405162", "project_version": "1",
                            "crash": {"exception_type": name}})
