"""Operator commands: `sempervirens anomalies`, `sempervirens purge`."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from .. import settings

STORE_SETTINGS = (*settings.STORES, "log_level")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "anomalies", help="list addresses reporting many distinct clients (hashed)",
        description="List, per project and UTC day, the addresses that reported at least N "
                    "distinct client_ids, as keyed hashes (never the address).",
        epilog="example: sempervirens anomalies --min-clients 1000 --json")
    settings.add_arguments(parser, *STORE_SETTINGS, "ip_hash_key")
    parser.add_argument("--min-clients", type=settings.whole_number(1, 10**9), default=None,
                        help="threshold N [default: the anomaly_min_clients setting]")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(func=anomalies)

    parser = subparsers.add_parser(
        "purge", help="delete raw addresses older than the retention period",
        description="Delete access-log rows, origins and anomaly addresses older than the "
                    "retention period, for days already aggregated. Aggregates stay.",
        epilog="example: sempervirens purge --retention-days 30")
    settings.add_arguments(parser, *STORE_SETTINGS, "retention_days")
    parser.set_defaults(func=purge)


def open_stores_of(args: argparse.Namespace):
    """The resolved settings (checked by the command line already) and the existing stores."""
    from ..store._existing import open_existing

    config = settings.resolve(args)
    logging.basicConfig(level=config["log_level"].upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return config, open_existing(config, args.command_name)


def anomalies(args: argparse.Namespace) -> int:
    from .anomalies import list_anomalies

    values, stores = open_stores_of(args)
    threshold = args.min_clients if args.min_clients is not None else values["anomaly_min_clients"]
    try:
        found = list_anomalies(stores, threshold, values["ip_hash_key"])
    finally:
        stores.dispose()
    if args.json:
        for anomaly in found:
            print(json.dumps(anomaly))
        return 0
    print(f"{'day':10}  {'project':20}  {'clients':>9}  {'pings':>9}  address (HMAC-SHA256)")
    for a in found:
        print(f"{a['day']:10}  {a['project']:20}  {a['clients']:>9}  {a['pings']:>9}  {a['ip_hash']}")
    if not found:
        print(f"(no address reported {threshold} or more distinct clients in a day)")
    return 0


def purge(args: argparse.Namespace) -> int:
    from .retention import kept_past_retention, purge_expired

    values, stores = open_stores_of(args)
    try:
        deleted = purge_expired(stores, values["retention_days"])
        kept = kept_past_retention(stores, values["retention_days"])
    finally:
        stores.dispose()
    print(f"purged {deleted} rows older than {values['retention_days']} days")
    if kept is not None:  # purge alone from cron, and no aggregation: addresses kept for good
        print(f"sempervirens purge: addresses from {kept} on are older than "
              f"{values['retention_days']} days but kept until their days are aggregated: "
              "run `sempervirens aggregate` (or serve with --aggregate-interval-seconds > 0)",
              file=sys.stderr)
    return 0
