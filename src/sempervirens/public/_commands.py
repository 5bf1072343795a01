"""`sempervirens release`: write the dataset releases of complete periods."""

from __future__ import annotations

import argparse

from .. import settings


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "release", help="publish dataset releases (CSV, Parquet, checksums) of complete periods",
        description="Write, for every complete week and month, the public tables of that period "
                    "as CSV and Parquet with SHA-256 checksums into the releases directory "
                    "(served at /datasets). Unchanged periods are left as they are.")
    settings.add_arguments(parser, "data_dir", "database", "private_database", "releases_dir")
    parser.add_argument("--interval", choices=("week", "month"), action="append",
                        help="only these intervals [default: week and month]")
    parser.set_defaults(func=release)


def release(args: argparse.Namespace) -> int:
    from ..store import open_stores
    from .datasets import RELEASE_INTERVALS, release as write, releases_dir

    config = settings.resolve(args)
    stores = open_stores(config["data_dir"], config["database"], config["private_database"])
    try:
        directory = releases_dir(config)
        written = write(stores.telemetry, directory, tuple(args.interval or RELEASE_INTERVALS))
    finally:
        stores.dispose()
    print(f"{len(written)} release(s) written to {directory}" + (": " + ", ".join(written) if written else ""))
    return 0
