"""Operator command: `sempervirens init`, which creates the stores.

A module of its own, outside `store/`: importing anything in `store/` imports
SQLAlchemy, and the command line must start with the standard library alone.
"""

from __future__ import annotations

from . import settings

STORE_SETTINGS = (*settings.STORES, "log_level")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "init", help="create the stores (telemetry and private) and bring their schema up to date",
        description="Create the telemetry store and the private store (SQLite files in "
                    "--data-dir, or the databases of --database and --private-database, "
                    "which must exist and be empty or already Sempervirens stores) and run "
                    "their migrations. `serve` does this too; every other command refuses a "
                    "missing store.",
        epilog="example: sempervirens init --data-dir /var/lib/sempervirens")
    settings.add_arguments(parser, *STORE_SETTINGS)
    parser.set_defaults(func=init)


def init(args) -> int:
    from .store._existing import init as create

    return create(args)
