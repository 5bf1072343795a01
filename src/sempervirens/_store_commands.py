"""Operator command: `sempervirens init`, which creates the stores, the secret key and
the (empty) lake: what `check` then finds in place.

A module of its own, outside `store/`: importing anything in `store/` imports
SQLAlchemy, and the command line must start with the standard library alone.
"""

from __future__ import annotations

from . import redact, settings

STORE_SETTINGS = (*settings.STORES, "log_level")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "init", help="create the stores (telemetry and private) and bring their schema up to "
                     "date, the secret key and the lake",
        description="Create the telemetry store and the private store (SQLite files in "
                    "--data-dir, or the databases of --database and --private-database, "
                    "which must exist and be empty or already Sempervirens stores) and run "
                    "their migrations; make the secret key (unless one is set) and the lake's "
                    "empty manifest. `serve` creates the stores and the key too; every other "
                    "command refuses a missing store.",
        epilog="example: sempervirens init --data-dir /var/lib/sempervirens")
    settings.add_arguments(parser, *STORE_SETTINGS)
    parser.set_defaults(func=init)


def init(args) -> int:
    from .admin._secret import load_key
    from .store._existing import init as create
    from .store.lake import Lake, LakeError

    status = create(args)
    values = settings.resolve(args)
    load_key(values)  # made now if missing (a one-line SystemExit if it cannot be)
    try:
        with Lake(values["lake"]).lock():  # writes a new lake's empty manifest
            pass
    except (LakeError, OSError) as error:
        raise SystemExit(f"sempervirens init: the lake at {redact.url(values['lake'])}: "
                         f"{str(error).splitlines()[0]}") from None
    return status
