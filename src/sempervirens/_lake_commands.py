"""Operator commands: `sempervirens lake seal|list|verify`.

A module of its own, outside `store/`: importing anything in `store/` imports
SQLAlchemy, and the command line must start with the standard library alone.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date, datetime, timedelta, timezone

from . import redact, settings

STORE_SETTINGS = (*settings.STORES, "log_level", "lake")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "lake", help="seal closed days into the Parquet lake, list and verify it",
        description="The lake keeps closed UTC days of pings as Parquet files (docs/lake.md).",
        epilog="example: sempervirens lake list --data-dir /var/lib/sempervirens")
    commands = parser.add_subparsers(dest="lake_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: _usage(parser))

    seal = commands.add_parser(
        "seal", help="seal every closed day now, and say what was sealed",
        description="Seal every UTC day that ended more than the grace period ago and is not "
                    "sealed yet, and the late pings of sealed days.",
        epilog="example: sempervirens lake seal --through 2026-11-30")
    settings.add_arguments(seal, *STORE_SETTINGS, "seal_grace_hours")
    seal.add_argument("--through", metavar="YYYY-MM-DD", type=_day, default=None,
                      help="seal no day after this one")
    seal.set_defaults(func=seal_command)

    listing = commands.add_parser(
        "list", help="list sealed days: rows, files, bytes, rewrites",
        description="List the sealed days of the lake: rows per table, files, bytes, late "
                    "files and the rewrites made for deletion requests.",
        epilog="example: sempervirens lake list --lake s3://bucket/sempervirens/lake")
    settings.add_arguments(listing, "data_dir", "lake")
    listing.set_defaults(func=list_command)

    verify = commands.add_parser(
        "verify", help="re-read every file and check its sha256",
        description="Re-read every file of the lake and compare it with the sha256 its "
                    "manifest recorded; each mismatch or missing file is one line.",
        epilog="example: sempervirens lake verify --data-dir /var/lib/sempervirens")
    settings.add_arguments(verify, "data_dir", "lake")
    verify.set_defaults(func=verify_command)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day (YYYY-MM-DD): {value!r}") from None


def _lake(values: dict, command: str):
    from .store.lake import Lake, LakeError

    try:
        lake = Lake(values["lake"])  # settings.resolve() defaults it to <data_dir>/lake
    except LakeError as error:
        raise SystemExit(f"sempervirens lake {command}: {error}") from None
    return lake


def _say(message: str) -> None:
    """One line on stderr: the lake's location may hold a line break or a password."""
    print(redact.line(message), file=sys.stderr)


def _no_lake(command: str, lake) -> int:
    _say(f"sempervirens lake {command}: no lake at {lake.shown} (nothing sealed there yet; "
         f"check --lake and --data-dir)")
    return 1


def _say_lake(command: str, lake) -> None:
    """Which lake a command uses, once its manifest was read (an error stays one line)."""
    _say(f"sempervirens lake {command}: lake: {lake.shown}")


def seal_command(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from .store._cycle_lock import cycle_lock_waiting
    from .store._existing import open_existing
    from .admin.deletion import forget_stragglers
    from .store.lake import LakeError, closed_store_days, seal

    values = settings.resolve(args)
    logging.basicConfig(level=values["log_level"].upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    lake = _lake(values, "seal")
    now = datetime.now(timezone.utc)
    grace = timedelta(hours=values["seal_grace_hours"])
    if args.through is not None and args.through > (now - grace).date() - timedelta(days=1):
        _say(f"sempervirens lake seal: {args.through} has not ended {values['seal_grace_hours']} "
             f"hours ago yet (seal_grace_hours); nothing done")
        return 2
    try:
        lake.manifest()  # a damaged lake is said before anything else is opened
    except LakeError as error:
        _say(f"sempervirens lake seal: {error}")
        return 1
    stores = open_existing(values, "lake seal")
    _say_lake("seal", lake)
    try:
        # The cycle's lock: on object storage the lake's own lock does not reach a cycle
        # on another host (store/_cycle_lock.py).
        with cycle_lock_waiting(stores, lambda: _say(
                "sempervirens lake seal: waiting for the aggregation cycle running now to end "
                "(one writer of the lake at a time)")):
            # as the cycle: a deleted client's ping committed after its deletion stays out
            forget_stragglers(stores, values, closed_store_days(stores.telemetry, now=now,
                                                                grace=grace))
            report = seal(stores.telemetry, lake, now=now, grace=grace, through=args.through)
    except (LakeError, OSError, SQLAlchemyError) as error:
        _say(f"sempervirens lake seal: {_first_line(error)}")
        return 1
    finally:
        stores.dispose()
    if report.cleaned:
        print(f"removed {len(report.cleaned)} file(s) left by an interrupted run")
    for day in report.days:
        print(f"sealed {day}")
    for day, count in sorted(report.late.items()):
        print(f"sealed {count} late ping(s) of {day} (already sealed) as an extra file")
    rows = ", ".join(f"{report.rows.get(t, 0)} {t}" for t in ("pings", "counters", "timings"))
    if report.days or report.late:
        print(f"{len(report.days)} day(s) sealed, {len(report.late)} with late pings: "
              f"{rows} rows, {report.bytes} bytes in {lake.shown}")
    else:
        print(f"nothing to seal in {lake.shown}")
    return 0


def list_command(args: argparse.Namespace) -> int:
    from .store.lake import LakeError

    values = settings.resolve(args)
    lake = _lake(values, "list")
    if not lake.exists():
        return _no_lake("list", lake)
    try:
        days = lake.manifest()["days"]
    except LakeError as error:
        _say(f"sempervirens lake list: {error}")
        return 1
    _say_lake("list", lake)
    if not days:
        print(f"(no sealed day in {lake.shown})")
        return 0
    print(f"{'day':10}  {'pings':>9}  {'counters':>10}  {'timings':>9}  {'files':>5}  {'bytes':>11}  "
          f"{'late':>4}  rewrites")
    for day, sealed in sorted(days.items()):
        rows = {}
        for f in sealed["files"]:
            rows[f["table"]] = rows.get(f["table"], 0) + f["rows"]
        size = sum(f["bytes"] for f in sealed["files"])
        rewrites = "; ".join(f"{r['at']} {r['clients']} client(s)" for r in sealed.get("rewrites", []))
        print(f"{day:10}  {rows.get('pings', 0):>9}  {rows.get('counters', 0):>10}  "
              f"{rows.get('timings', 0):>9}  {len(sealed['files']):>5}  {size:>11}  "
              f"{len(sealed.get('late', [])):>4}  {rewrites or '-'}")
    return 0


def verify_command(args: argparse.Namespace) -> int:
    from .store.lake import LakeError

    values = settings.resolve(args)
    lake = _lake(values, "verify")
    if not lake.exists():
        return _no_lake("verify", lake)
    try:
        problems = lake.verify()
        files = sum(len(d["files"]) for d in lake.manifest()["days"].values())
    except LakeError as error:
        _say(f"sempervirens lake verify: {error}")
        return 1
    for problem in problems:
        _say(f"sempervirens lake verify: {problem}")
    if problems:
        return 1
    _say_lake("verify", lake)
    print(f"{files} file(s) match their sha256 in {lake.shown}")
    return 0


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
