"""`sempervirens simulate`: a simulated population against a running server."""

from __future__ import annotations

import argparse

from .. import settings


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate", help="send a simulated population's telemetry to a server",
        description="Simulate installations of several projects: earlier days are written "
                    "back-dated to the server's stores, today's pings go through the real "
                    "client library over HTTP. Start the server with --trusted-proxies "
                    "127.0.0.1 so each installation's simulated address is believed.")
    parser.add_argument("--endpoint", default="http://127.0.0.1:8000", help="the server's URL")
    parser.add_argument("--size", type=int, default=200, help="installations [default: 200]")
    parser.add_argument("--days", type=int, default=30,
                        help="days of history, today included [default: 30]")
    parser.add_argument("--seed", type=int, default=1, help="random seed [default: 1]")
    parser.add_argument("--parallel", type=int, default=4,
                        help="client processes at once [default: 4]")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    settings.add_arguments(parser, "data_dir", "database", "private_database")
    parser.set_defaults(func=simulate)


def simulate(args: argparse.Namespace) -> int:
    from .run import simulate as run

    config = settings.resolve(args)
    result = run(args.endpoint, size=args.size, days=args.days, seed=args.seed,
                 data_dir=config["data_dir"], database=config["database"],
                 private_database=config["private_database"], parallel=args.parallel,
                 progress=not args.quiet)
    print(f"{len(result.population)} installations: {result.history_pings} pings of earlier days "
          f"written to the store, {result.today_runs} client runs today over HTTP "
          f"({result.failed_runs} failed)")
    return 1 if result.failed_runs else 0
