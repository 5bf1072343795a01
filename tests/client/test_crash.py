"""Crash reports: scrubbed, shown, and sent only with the user's permission."""

import getpass
import json
import os
import socket
import sys
import time

import pytest
from client_helpers import clean_env, read_spool, run_host, spooled

import sempervirens
from sempervirens.client import _consent, _crash, _wire
from sempervirens.protocol import validate_ping


def test_scrubs_what_could_identify_the_user(monkeypatch):
    home = os.path.expanduser("~")
    host = socket.gethostname()
    monkeypatch.setenv("USER", "ada_lovelace")
    text = (
        f'File "{home}/project/analysis.py", line 3\n'
        'File "/home/grace/src/x.py" and C:\\Users\\alan\\x.py and /Users/katherine/y.py\n'
        f"ConnectionError: ada_lovelace@{host} could not reach 192.168.10.42 or fe80::1ff:fe23:4567:890a "
        "or ::1, mail ada.lovelace@example.ac.uk; at 12:30:01 version 1.2.3.4.5\n"
    )
    scrubbed = _crash.scrub(text)
    for secret in (
        home + "/",
        "grace",
        "alan",
        "katherine",
        "ada_lovelace",
        "192.168.10.42",
        "fe80::1ff",
        "example.ac.uk",
        "::1,",
    ):
        assert secret not in scrubbed, secret
    if len(host) >= 3:
        assert host not in scrubbed
    assert "~/project/analysis.py" in scrubbed
    assert "12:30:01" in scrubbed and "1.2.3.4.5" in scrubbed  # times and versions stay readable


def test_the_report_shows_every_character_that_would_act_on_a_terminal():
    """The user reads the report before it is sent: nothing in it may hide, overwrite or
    reorder what the terminal shows (ESC [8m conceals, CR overwrites, U+202E reverses)."""
    try:
        raise ValueError("shown\x1b[8mhidden\x1b[0m\rover\x9b2J \u202ereversed\x07\ttab")
    except ValueError as error:
        report = _crash.format_report(error)
    assert not any(c in report for c in "\x1b\r\x9b\u202e\x07")
    assert "shown\\x1b[8mhidden\\x1b[0m\\rover\\x9b2J \\u202ereversed\\x07\ttab" in report
    ping = validate_ping("crash", {"client_id": "0b9c7f0e-5b1a-4c47-9a55-6f1f2c3d4e5f",
                                   "project_version": "1.0",
                                   "crash": {"exception_type": "ValueError", "traceback": report}})
    assert ping.crash_traceback == report  # what the user read is what is sent


def _crash_in_pkg():
    try:
        raise ValueError(
            f"cannot open {os.path.expanduser('~')}/secret.csv for {getpass.getuser()}"
        )
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
    telemetry.install_excepthook(package=__name__)  # this module plays the project's package
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
    assert (
        _crash.exception_type(json.JSONDecodeError("m", "d", 0)) == "json.decoder.JSONDecodeError"
    )
    name = _crash.exception_type(Local())
    validate_ping(
        "crash",
        {
            "client_id": "0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405162",
            "project_version": "1",
            "crash": {"exception_type": name},
        },
    )


_CONTROLLING_TTY = (
    "import fcntl, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "exec(compile(sys.argv[1], '<host>', 'exec'))"
)


def _run_in_terminal(code: str, env: dict, answer: bytes | None) -> str:
    """Run a host program on a real pseudo-terminal, answer its question, return the screen."""
    import pty
    import select
    import subprocess
    import time

    main_fd, terminal_fd = pty.openpty()
    # A session of its own whose controlling terminal is the pty, in the foreground:
    # what a user at a terminal (or tmux, ssh, `srun --pty`) gives a program.
    process = subprocess.Popen(
        [sys.executable, "-c", _CONTROLLING_TTY, code],
        stdin=terminal_fd,
        stdout=terminal_fd,
        stderr=terminal_fd,
        env=env,
        close_fds=True,
        start_new_session=True,
    )
    os.close(terminal_fd)
    screen = b""
    answered = False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main_fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(main_fd, 4096)
            except OSError:  # the program exited and closed the terminal
                break
            if not chunk:
                break
            screen += chunk
        if answer is not None and not answered and b"Send it?" in screen:
            os.write(main_fd, answer)
            answered = True
        if process.poll() is not None and not ready:
            break
    process.wait(timeout=10)
    os.close(main_fd)
    return screen.decode(errors="replace").replace("\r\n", "\n")


def test_interactive_user_reads_the_report_and_answers(home):
    from client_helpers import clean_env

    home.mkdir()
    _consent.update(str(home), "usage", "crashy", _consent.GRANTED)
    code = (
        "import os, sempervirens\n"
        "t = sempervirens.Telemetry('crashy', version='1.0', endpoint='http://127.0.0.1:9')\n"
        "try:\n"
        "    open(os.path.expanduser('~/missing-data.csv'))\n"
        "except OSError as e:\n"
        "    print('RESULT', t.report_crash(e))\n"
    )
    env = clean_env(SEMPERVIRENS_HOME=str(home))
    screen = _run_in_terminal(code, env, b"always\n")
    assert "crashy crashed" in screen and "~/missing-data.csv" in screen
    # What the report carries, said honestly: not "anonymous".
    assert "anonymous" not in screen and "installation id" in screen
    assert os.path.expanduser("~") + "/missing" not in screen
    assert "RESULT True" in screen
    [(header, body)] = read_spool(home)
    assert header["ping_type"] == "crash"
    assert json.loads(body)["crash"]["traceback"] in screen  # what was shown is what goes
    assert _consent.crash_allowed(str(home), "crashy") == "granted"  # "always" is remembered

    screen = _run_in_terminal(code, env, b"")
    assert "Send it?" not in screen and "RESULT True" in screen  # a standing yes asks no more


def test_interactive_no_sends_nothing(home):
    from client_helpers import clean_env

    home.mkdir()
    _consent.update(str(home), "usage", "crashy", _consent.GRANTED)
    code = (
        "import sempervirens\n"
        "t = sempervirens.Telemetry('crashy', version='1.0', endpoint='http://127.0.0.1:9')\n"
        "print('RESULT', t.report_crash(RuntimeError('x')))\n"
    )
    screen = _run_in_terminal(code, clean_env(SEMPERVIRENS_HOME=str(home)), b"\n")
    assert "Send it?" in screen and "RESULT False" in screen
    assert read_spool(home) == []


_LIBRARY_CALLS_REPORT_CRASH = (
    "import sempervirens, time\n"
    "t = sempervirens.Telemetry('crashy', version='1.0', endpoint='http://127.0.0.1:9')\n"
    "start = time.monotonic()\n"
    "try:\n"
    "    raise RuntimeError('first error')\n"
    "except RuntimeError as e:\n"
    "    print('RESULT', t.report_crash(e))\n"
    "print('WAITED %.1f' % (time.monotonic() - start))\n"
)


def test_nobody_at_the_terminal_means_not_now_after_the_prompt_timeout(home):
    from client_helpers import clean_env

    home.mkdir()
    _consent.update(str(home), "usage", "crashy", _consent.GRANTED)
    env = clean_env(SEMPERVIRENS_HOME=str(home), SEMPERVIRENS_PROMPT_TIMEOUT="1")
    screen = _run_in_terminal(_LIBRARY_CALLS_REPORT_CRASH, env, None)  # nobody types
    assert "Send it?" in screen and "(not now)" in screen and "RESULT False" in screen
    waited = float(screen.split("WAITED ")[1].split()[0])
    assert 0.9 <= waited < 5, waited
    assert read_spool(home) == []


def test_no_question_inside_a_test_runner(home):
    from client_helpers import clean_env

    home.mkdir()
    _consent.update(str(home), "usage", "crashy", _consent.GRANTED)
    env = clean_env(SEMPERVIRENS_HOME=str(home), PYTEST_CURRENT_TEST="test_x.py::test_y (call)")
    screen = _run_in_terminal(_LIBRARY_CALLS_REPORT_CRASH, env, None)
    assert "Send it?" not in screen and "RESULT False" in screen
    assert float(screen.split("WAITED ")[1].split()[0]) < 1


def test_a_crashing_program_exits_at_once_and_says_how_to_allow_reports(home, tmp_path):
    from client_helpers import clean_env

    home.mkdir()
    _consent.update(str(home), "usage", "crashy", _consent.GRANTED)
    pkg = tmp_path / "pkg"
    (pkg / "crashy").mkdir(parents=True)
    (pkg / "crashy" / "__init__.py").write_text("def fail():\n    raise ValueError('boom')\n")
    code = (
        "import sempervirens, crashy\n"
        "t = sempervirens.Telemetry('crashy', version='1.0', endpoint='http://127.0.0.1:9')\n"
        "t.install_excepthook()\n"
        "crashy.fail()\n"
    )
    # PYTHON_COLORS=0: Python 3.13 colours tracebacks on a terminal.
    env = clean_env(SEMPERVIRENS_HOME=str(home), PYTHONPATH=str(pkg), PYTHON_COLORS="0")
    start = time.monotonic()
    screen = _run_in_terminal(code, env, None)
    assert time.monotonic() - start < 10
    assert "Send it?" not in screen and "ValueError: boom" in screen
    assert "sempervirens opt-in --crash-reports crashy" in screen
    assert read_spool(home) == []


def test_credentials_in_a_url_or_a_proxy_variable_never_reach_a_report(monkeypatch):
    """requests' ProxyError names the proxy URL, password and all; a database driver its DSN."""
    monkeypatch.setenv("https_proxy", "http://carol:s3cr%40t@proxy:3128")
    monkeypatch.setenv("ALL_PROXY", "dave:hunter22@gateway:8080")  # curl takes it scheme-less
    try:
        raise ConnectionError(
            "Cannot connect to proxy http://carol:s3cr%40t@proxy:3128 (password s3cr@t); "
            "via dave:hunter22@gateway:8080; dsn postgresql://erin:pg-pass@db/x; "
            "see https://docs.python.org/3/"
        )
    except ConnectionError as error:
        report = _crash.format_report(error)
    for secret in ("s3cr", "hunter22", "pg-pass", "erin", "carol", "dave:"):
        assert secret not in report, (secret, report)
    assert "http://<credentials>@proxy:3128" in report
    assert "https://docs.python.org/3/" in report  # a URL without credentials stays


def test_the_exception_type_is_scrubbed_as_the_report_is(monkeypatch):
    """A module named after its user (alice_tools.py) names every exception it defines."""
    monkeypatch.setenv("USER", "ada_lovelace")
    kind = type("ThesisError", (Exception,), {"__module__": "ada_lovelace_tools"})
    name = _crash.exception_type(kind("no data"))
    assert "ada" not in name.lower() and name.endswith("_tools.ThesisError"), name
    assert "ada_lovelace" not in _crash.format_report(kind("no data"))
    validate_ping(
        "crash",
        {
            "client_id": "0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405162",
            "project_version": "1",
            "crash": {"exception_type": name},
        },
    )


def test_the_environment_holds_neither_the_user_nor_the_machine_name(monkeypatch):
    """A kernel its user built is named as they chose (`uname -r`: 6.8.0-ada_lovelace):
    the environment goes through the same scrubber as a report (a fake uname: no real
    kernel of that name is at hand)."""
    from sempervirens.client import _environment

    monkeypatch.setenv("USER", "ada_lovelace")
    host = socket.gethostname()
    names = ["ada_lovelace"] + ([host] if len(host) >= 3 else [])
    real = os.uname()
    fake = os.uname_result(
        (real.sysname, host, "6.8.0-" + "-".join(names) + "-rt", real.version, real.machine)
    )
    monkeypatch.setattr(os, "uname", lambda: fake)
    monkeypatch.setattr(_environment, "_cache", None)
    sent = _environment.environment()
    for name in names:
        assert name not in json.dumps(sent), sent
    assert sent["os_version"].startswith("6.8.0-") and sent["os_version"].endswith("-rt")
    validate_ping(
        "usage",
        {
            "client_id": "0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405162",
            "project_version": "1",
            "period": {"start": "2026-01-01T00:00:00.000Z", "end": "2026-01-01T00:00:01.000Z"},
            "environment": sent,
            "metrics": {},
        },
    )


# Messages whose scrubbing took time quadratic in their length (each pattern was tried
# from every character of a run to its end): letters (a DNA sequence, a token), a
# dotted run, a run that looks like a URL scheme.
LONG_MESSAGES = {
    "sequence": "ACGT" * 250_000,
    "dotted": "1.2.3." * 150_000,
    "scheme-like": "x@" + "a." * 400_000 + "1",
}


@pytest.mark.parametrize("kind", sorted(LONG_MESSAGES))
def test_a_crash_with_a_message_of_a_megabyte_never_holds_the_exit(tmp_path, kind):
    """The excepthook scrubs the report at exit: 100 KB of letters took 20 s, a megabyte
    about half an hour, while the host could not exit."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    _consent.update(str(home), "usage", "crashy", _consent.GRANTED)
    _consent.update(str(home), "crash", "crashy", _consent.GRANTED)
    code = f"""\
        import sempervirens
        from test_crash import LONG_MESSAGES
        t = sempervirens.Telemetry("crashy", version="1.0", endpoint="http://127.0.0.1:1")
        t.install_excepthook(package="__main__")
        t.count("run")
        raise ValueError(LONG_MESSAGES[{kind!r}])
    """
    env = clean_env(SEMPERVIRENS_HOME=str(home), PYTHONPATH=os.path.dirname(__file__))
    start = time.monotonic()
    result = run_host(code, env, timeout=60)
    assert result.returncode == 1 and "SWALLOWED" not in result.stderr
    assert time.monotonic() - start < 15  # a loaded machine; it takes well under a second
    [crash] = [json.loads(b) for h, b in read_spool(home) if h["ping_type"] == "crash"]
    assert len(crash["crash"]["traceback"]) <= _wire.MAX_TRACEBACK_LENGTH
    assert crash["crash"]["traceback"].rstrip().endswith(LONG_MESSAGES[kind][-100:])
