"""Stores for the commands: `init` creates them; every other command opens existing ones.

Only `init` and `serve` create a store: any other command run against a directory
or database that holds none refuses in one line naming where it looked, so that a
command run from the wrong directory does not silently start a new, empty store.
Every command says on stderr, in one line, which stores it used (sempervirens/cli.py).
"""

from __future__ import annotations

import argparse
import sys

from .. import settings


def init(args: argparse.Namespace) -> int:
    from ..progress import Progress
    from . import open_stores

    values = settings.resolve(args)
    telemetry, private = describe(values)
    try:
        with Progress("init: create and migrate the stores", total=None):
            open_stores(values["data_dir"], values["database"], values["private_database"]).dispose()
    except Exception as error:  # noqa: BLE001 - one line; the URL's password is never shown
        raise SystemExit(f"sempervirens init: cannot create the stores ({_first_line(error)})") \
            from None
    print(f"sempervirens init: stores ready: telemetry {telemetry}, private {private}",
          file=sys.stderr)
    return 0


def open_existing(values: dict, command: str):
    """The stores of these settings, migrated; SystemExit (one line naming the store)
    if one is missing or cannot be reached.  (The command line says which stores a
    command used once it succeeded, so that an error stays one line.)"""
    from sqlalchemy import inspect

    from . import create_store_engine, open_stores

    def refuse(message: str) -> SystemExit:
        return SystemExit(f"sempervirens {command}: {message}")

    for role, url in zip(("telemetry", "private"), urls(values)):
        shown = _shown(url)
        try:
            engine = None if _missing_file(url) else create_store_engine(url)
        except Exception as error:  # noqa: BLE001 - a URL SQLAlchemy cannot use
            raise refuse(f"cannot use the {role} store {shown} ({_first_line(error)})") from None
        if engine is None:
            raise refuse(f"no {role} store at {shown}: run `sempervirens init` (or `serve`) "
                         f"with the same settings first, or give the right --data-dir or --config")
        try:
            with engine.connect() as connection:
                tables = set(inspect(connection).get_table_names())
        except Exception as error:  # noqa: BLE001 - one line; no password shown
            raise refuse(f"cannot reach the {role} store at {shown} "
                         f"({_first_line(error)})") from None
        finally:
            engine.dispose()
        if not tables & {"alembic_version", "sempervirens_migrations"}:
            raise refuse(f"no {role} store at {shown} (the database holds no Sempervirens "
                         f"tables): run `sempervirens init` with the same settings first")
    try:
        return open_stores(values["data_dir"], values["database"], values["private_database"])
    except Exception as error:  # noqa: BLE001 - a failed migration, in one line
        raise refuse(f"cannot open the stores ({_first_line(error)})") from None


def urls(values: dict) -> tuple[str, str]:
    """The stores' URLs, without creating the data directory (store_urls makes it)."""
    from pathlib import Path

    base = Path(values["data_dir"]).resolve()
    return (values["database"] or f"sqlite:///{base / 'telemetry.db'}",
            values["private_database"] or f"sqlite:///{base / 'private.db'}")


def describe(values: dict) -> tuple[str, str]:
    """The two stores as shown to an operator: paths, or URLs without their password."""
    return tuple(_shown(url) for url in urls(values))


def _missing_file(url: str) -> bool:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return False
    from pathlib import Path

    return not Path(parsed.database).is_file()


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    from ..redact import url as without_password

    try:
        make_url(url)
    except Exception:  # noqa: BLE001 - not a URL: say so rather than show it
        return "(not a database URL)"
    return without_password(url)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    text = lines[0][:300] if lines else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
