"""Run the command line in-process and in a subprocess; walk its argparse tree."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from sempervirens import settings
from sempervirens.cli import build_parser, main


@dataclass
class Ran:
    status: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def run(capsys, *argv: str) -> Ran:
    """`sempervirens ARGV` in this process; SystemExit as the interpreter would end it."""
    capsys.readouterr()
    try:
        status = main(list(argv))
    except SystemExit as exit_:
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
            status = 1
        else:
            status = exit_.code or 0
    captured = capsys.readouterr()
    return Ran(status, captured.out, captured.err)


def run_process(*argv: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SEMPERVIRENS_")}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "sempervirens", *argv], capture_output=True,
                          text=True, env=environ, timeout=60, **kwargs)


def commands(parser: argparse.ArgumentParser | None = None, path: tuple[str, ...] = ()):
    """Every command and subcommand: (words after `sempervirens`, its parser)."""
    parser = parser or build_parser()
    if path:
        yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from commands(child, (*path, name))


def has_subcommands(parser: argparse.ArgumentParser) -> bool:
    return any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)


def setting_names(parser: argparse.ArgumentParser) -> tuple[str, ...]:
    return tuple(parser.get_default("settings") or ())


def required_arguments(parser: argparse.ArgumentParser, client_id: str) -> list[str]:
    """Values for the required arguments, so that a run reaches the settings."""
    words: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) or action.dest in ("help",):
            continue
        if action.option_strings:
            if action.required:
                words += [action.option_strings[0],
                          (action.choices and list(action.choices)[0]) or _accepted(action)]
        elif action.nargs not in ("?", "*"):
            words.append(client_id if action.metavar == "CLIENT_ID" else "mypkg")
    return words


def flag(name: str) -> str:
    return settings.SETTINGS[name].flag


def _accepted(action: argparse.Action) -> str:
    """A value this option's type accepts (a URL for --endpoint, a number for a count...)."""
    for candidate in ("http://127.0.0.1:9", "1", "2026-01", "2026Q1", "x"):
        try:
            (action.type or str)(candidate)
        except (ValueError, TypeError, argparse.ArgumentTypeError):
            continue
        return candidate
    return "x"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """Imported by a test module: its commands see no SEMPERVIRENS_* of the caller, an
    empty configuration file and a home of their own."""
    for variable in [v for v in os.environ if v.startswith("SEMPERVIRENS_")]:
        monkeypatch.delenv(variable)
    (tmp_path / "empty.toml").write_text("")
    monkeypatch.setenv("SEMPERVIRENS_CONFIG", str(tmp_path / "empty.toml"))
    monkeypatch.setenv("SEMPERVIRENS_HOME", str(tmp_path / "home"))
