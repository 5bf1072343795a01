"""Crash reports: the traceback text, scrubbed of what could identify the user.

Removed before anything is stored or shown: the credentials of a URL and of the
proxy variables, the home directory and other users' home paths, the user's login
and host names, e-mail addresses, IPv4 and IPv6 addresses.  The exception message
stays (it usually says what went wrong), with the same scrubbing, and so does the
exception's type name, which is sent beside the text.  The user reads this exact
text before it is sent.
"""

from __future__ import annotations

import os
import re
import sys

from . import _identities, _paths, _wire

# Every pattern starts only where a match could begin (a look-behind refuses the middle
# of a run): a message of 100 KB of letters (a DNA sequence, a token) took the e-mail
# pattern 20 s, tried from each of its characters to the end of the run.
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
)
_IPV4 = re.compile(
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"
)
# Colon-separated hex groups, including compressed forms (::1, fe80::1%eth0); a
# lone "12:30" has one colon and two groups, so it is left alone.
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?"
    r"(?:%[\w.]+)?(?![\w:])"
)
# The credentials of a URL (a proxy's, a database's): scheme://user:password@host.
_USERINFO = re.compile(r"(?<![A-Za-z0-9+.\-])(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^\s/@]+@")
# Where a host keeps a proxy URL, credentials and all (written with or without a scheme).
PROXY_VARIABLES = tuple(
    v for name in ("http_proxy", "https_proxy", "all_proxy") for v in (name, name.upper())
)
# Home directories of any user: /home/alice, /Users/alice, C:\Users\alice, /root.
_HOMES = re.compile(
    r"(?P<base>/home/|/Users/|/export/home/|[A-Za-z]:\\+Users\\+|[A-Za-z]:/Users/)"
    r"(?P<user>[^/\\\s\"':]+)"
)


def _proxy_credentials() -> list[str]:
    """The user:password parts of the proxy URLs in the environment, and each part."""
    found = []
    for variable in PROXY_VARIABLES:
        value = os.environ.get(variable, "")
        authority = value.partition("://")[2] or value  # curl takes it without a scheme
        credentials, at, _ = authority.partition("/")[0].rpartition("@")
        if at and credentials:
            from urllib.parse import unquote

            user, _, password = credentials.partition(":")
            found += [credentials, unquote(password), password]
            found += [] if len(user) < 3 else [unquote(user), user]
    return sorted({c for c in found if c}, key=len, reverse=True)


def scrub(text: str) -> str:
    for secret in _proxy_credentials():  # first: a password may hold what the rules match
        text = text.replace(secret, "<credentials>")
    text = _USERINFO.sub(lambda m: m.group("scheme") + "<credentials>@", text)
    home = _paths.home_dir()
    if home and len(home) > 1:
        text = text.replace(home.rstrip("/\\"), "~")
    text = _HOMES.sub(lambda m: m.group("base") + "<user>", text)
    text = _EMAIL.sub("<email>", text)
    text = _IPV4.sub("<ip>", text)
    text = _IPV6.sub(lambda m: "<ip>" if _looks_like_ipv6(m.group(0)) else m.group(0), text)
    return _identities.without_identities(text)


def _looks_like_ipv6(candidate: str) -> bool:
    import ipaddress

    try:
        ipaddress.IPv6Address(candidate.split("%")[0])
        return True
    except ValueError:
        return False


def exception_type(error: BaseException) -> str:
    """The exception's dotted name, scrubbed as the report is (a module may be named after
    its user: `alice_tools.Error`), then made a name the protocol takes."""
    kind = type(error)
    module = kind.__module__
    name = kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
    name = scrub(name).replace("<", "").replace(">", "")
    name = "".join(c if c.isalnum() or c in "._" else "_" for c in name.replace("<locals>.", ""))
    if not name or not (name[0].isalpha() or name[0] == "_"):
        name = "_" + name
    return name[: 2 * _wire.MAX_STRING_LENGTH]


# What would act on the terminal instead of being read there (C0 controls but the line
# break and tab, DEL, C1 controls, bidirectional overrides): an exception message holding
# ESC [8m would hide text from the user asked to read the report before it is sent.
_UNSEEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(text: str) -> str:
    """`text` with each character that would act on a terminal written as its escape."""
    return _UNSEEN.sub(lambda m: ascii(m.group())[1:-1], text)


def format_report(error: BaseException) -> str:
    import traceback

    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    # Only the end can be sent: scrub no more than that (a message may be megabytes).
    text = text[-2 * _wire.MAX_TRACEBACK_LENGTH :]
    text = _visible(scrub(text))
    if len(text) > _wire.MAX_TRACEBACK_LENGTH:  # keep the end: the innermost frames
        text = "...\n" + text[-(_wire.MAX_TRACEBACK_LENGTH - 4) :]
    return text


def involves(error: BaseException, package: str) -> bool:
    """Whether the traceback passes through `package`: the excepthook reports only those."""
    tb = error.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module == package or module.startswith(package + "."):
            return True
        tb = tb.tb_next
    return False


# Set by test runners: no question is ever asked inside one (nobody is there to answer).
_TEST_RUNNER_VARIABLES = ("PYTEST_CURRENT_TEST", "PYTEST_XDIST_WORKER", "TOX_ENV_NAME")
_TEST_RUNNER_MODULES = ("_pytest", "nose2", "hypothesis")


def interactive() -> bool:
    """Whether someone may be at a terminal to answer: never in a test runner or CI.

    Standard input and error are a terminal, this process is in the terminal's
    foreground (a background job reading it would be stopped), and no test runner,
    CI service or notebook kernel is running us.  Even then `ask` waits a bounded
    time only: a terminal with nobody typing (tmux, ssh, `srun --pty`) is common.
    """
    try:
        from . import _environment

        if any(os.environ.get(v) for v in _TEST_RUNNER_VARIABLES):
            return False
        if any(m in sys.modules for m in _TEST_RUNNER_MODULES) or "ipykernel" in sys.modules:
            return False
        if _environment.is_ci():
            return False
        stdin = sys.stdin
        if stdin is None or sys.stderr is None or not stdin.isatty() or not sys.stderr.isatty():
            return False
        return os.tcgetpgrp(stdin.fileno()) == os.getpgrp()
    except (AttributeError, ValueError, OSError):
        return False


ANSWERS = {
    "y": "yes",
    "yes": "yes",
    "a": "always",
    "always": "always",
    "v": "never",
    "never": "never",
    "n": "no",
    "no": "no",
}


def ask(project: str, text: str, timeout: float) -> str:
    """Show the report and ask; 'yes', 'no', 'always', 'never', or 'no' after `timeout` s.

    Nobody answering within `timeout` seconds means "not now": the report is not
    sent and the question comes back at the next crash.
    """
    import select

    sys.stderr.write(
        f"\n{project} crashed. It can send this crash report to its developers. "
        "The report is the text below, your installation id (a random id that the "
        "projects using Sempervirens share on this machine, not your name) and the "
        "platform (OS, Python, CPU count, memory):\n\n"
        f"{text}\n"
        f"Send it? [y]es / [N]o / [a]lways / ne[v]er "
        f"(no answer in {timeout:g} s means not now): "
    )
    sys.stderr.flush()
    fd = sys.stdin.fileno()
    ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
    if not ready:
        sys.stderr.write("\n(not now)\n")
        sys.stderr.flush()
        return "no"
    # One line at most, read without Python's buffering (which could wait for more).
    line = os.read(fd, 256).decode("utf-8", "replace")
    return ANSWERS.get(line.strip().lower(), "no")


def hint(project: str) -> None:
    """At a crash in the excepthook: how to allow reports, in one line (no question)."""
    try:
        sys.stderr.write(
            f"({project} could send a scrubbed report of crashes like this to its "
            f"developers if you allow it: `sempervirens opt-in --crash-reports {project}`)\n"
        )
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass
