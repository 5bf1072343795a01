"""`sempervirens aggregate`: run one cycle now (what `serve` does every interval)."""

from __future__ import annotations

import argparse

from .. import settings

# Every setting a cycle reads: the same for this command and for `serve`.
CYCLE_SETTINGS = ("data_dir", "database", "private_database", "log_level", "retention_days",
                  "anomaly_min_clients", "ip_hash_key", "dns_server", "secret_key")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "aggregate", help="run one cycle: seal closed days, release closed periods",
        description="Run one cycle: enrich new addresses and flag anomalies, seal every "
                    "closed day into the lake, release every closed period of the declared "
                    "projects once (differentially private), aggregate the private "
                    "institution tables, carry out deletion requests, then purge raw "
                    "addresses past the retention period.",
        epilog="example: sempervirens aggregate --data-dir /var/lib/sempervirens")
    settings.add_arguments(parser, *CYCLE_SETTINGS, *settings.CYCLE_EXTRA)
    parser.add_argument("--no-purge", action="store_true", help="skip the retention purge")
    parser.set_defaults(func=aggregate)


def aggregate(args: argparse.Namespace) -> int:
    from ..aggregate._commands import open_stores_of
    from .background import cycle_lock
    from .run import run_cycle

    values, stores = open_stores_of(args)
    try:
        with cycle_lock(stores) as acquired:
            if not acquired:
                print("sempervirens aggregate: another cycle is running; nothing done")
                return 1
            report = run_cycle(stores, values, purge=not args.no_purge)
    finally:
        stores.dispose()
    print(f"sealed {len(report.sealed_days)} days; released {len(report.releases)} periods; "
          f"{len(report.private_days)} private days; {report.enriched} addresses enriched; "
          f"{report.anomalies} anomalies ({report.excluded_pings} pings excluded); "
          f"{report.deleted_clients} clients deleted; {report.purged_rows} rows purged")
    return 0
