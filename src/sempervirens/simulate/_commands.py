"""`sempervirens simulate`: a simulated population against a running server."""

from __future__ import annotations

import argparse
import sys

from .. import settings


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate", help="send a simulated population's telemetry to a server (testing, demos)",
        description="Simulate installations of several projects against the server at "
                    "--endpoint (required: a simulation never goes anywhere by default): "
                    "earlier days are written back-dated to that server's stores (the same "
                    "--data-dir, --database and --private-database), today's pings go through "
                    "the real client library over HTTP. Start the server with "
                    "--trusted-proxies 127.0.0.1 so each installation's simulated address is "
                    "believed.",
        epilog="example: sempervirens simulate --endpoint http://127.0.0.1:8000 "
               "--data-dir ./sempervirens-data --size 200 --days 30")
    parser.add_argument("--endpoint", required=True, metavar="URL",
                        help="the URL of the server that receives the simulated telemetry")
    parser.add_argument("--size", type=_at_least_one, default=200,
                        help="installations [default: 200]")
    parser.add_argument("--days", type=_at_least_one, default=30,
                        help="days of history, today included [default: 30]")
    parser.add_argument("--seed", type=int, default=1, help="random seed [default: 1]")
    parser.add_argument("--parallel", type=_at_least_one, default=4,
                        help="client processes at once [default: 4]")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    settings.add_arguments(parser, "data_dir", "database", "private_database")
    parser.set_defaults(func=simulate)


def _at_least_one(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {value!r}")
    return number


def simulate(args: argparse.Namespace) -> int:
    from urllib.parse import urlsplit

    from ..store._existing import open_existing
    from .run import simulate as run

    if urlsplit(args.endpoint).scheme not in ("http", "https") or not urlsplit(args.endpoint).hostname:
        print(f"sempervirens simulate: --endpoint {args.endpoint!r}: not an http:// or https:// URL",
              file=sys.stderr)
        return 2
    config = settings.resolve(args)
    open_existing(config, "simulate").dispose()  # the server's stores, never new ones
    print(f"sempervirens simulate: sending to {args.endpoint}", file=sys.stderr)
    result = run(args.endpoint, size=args.size, days=args.days, seed=args.seed,
                 data_dir=config["data_dir"], database=config["database"],
                 private_database=config["private_database"], parallel=args.parallel,
                 progress=not args.quiet)
    print(f"{len(result.population)} installations: {result.history_pings} pings of earlier days "
          f"written to the store, {result.today_runs} client runs today over HTTP "
          f"({result.failed_runs} failed)")
    return 1 if result.failed_runs else 0
