"""`sempervirens aggregate` runs one cycle now (what `serve` does every interval);
`sempervirens release` only its seal and release steps."""

from __future__ import annotations

import argparse
import sys

from .. import redact, settings

# Every setting a cycle reads: the same for this command and for `serve`.
CYCLE_SETTINGS = (
    "data_dir", "database", "private_database", "log_level", "secret_key", "retention_days",
    "anomaly_min_clients", "ip_hash_key", "dns_server", "lake", "seal_grace_hours",
    "hot_margin_days", *settings.ENGINE, "k_anonymity", "dp_epsilon_day", "dp_epsilon_week",
    "dp_epsilon_month", "dp_delta", "release_grace_hours", "bound_max_features",
    "bound_max_events_per_day", "bound_max_timings", "bound_max_crash_cells",
    "bound_max_crashes_per_day", "no_dp", "releases_dir",
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "aggregate", help="run one cycle: seal closed days, release closed periods",
        description="Run one cycle: enrich new addresses and flag anomalies, seal every "
                    "closed day into the lake, release every closed period of the declared "
                    "projects once (differentially private), aggregate the private "
                    "institution tables, carry out deletion requests, then purge raw "
                    "addresses past the retention period.",
        epilog="example: sempervirens aggregate --data-dir /var/lib/sempervirens")
    settings.add_arguments(parser, *CYCLE_SETTINGS)
    parser.add_argument("--no-purge", action="store_true", help="skip the retention purge")
    parser.set_defaults(func=aggregate)

    parser = subparsers.add_parser(
        "release", help="seal closed days and release closed periods now",
        description="Seal every closed day into the lake, then release every closed period of "
                    "the declared projects that was not released yet (each is released once), "
                    "with its dataset files.",
        epilog="example: sempervirens release --data-dir /var/lib/sempervirens")
    settings.add_arguments(parser, *CYCLE_SETTINGS)
    parser.set_defaults(func=release)


def _undeclared(stores) -> list[str]:
    """Registered projects that declare nothing: the cycle releases nothing of theirs."""
    from ..admin.projects import declarations, registered_days

    declared = declarations(stores.telemetry)
    return sorted(p for p in registered_days(stores.telemetry) if p not in declared)


def _say_undeclared(command: str, projects: list[str]) -> None:
    if projects:
        print(f"sempervirens {command}: nothing released for {', '.join(projects)}: registered "
              f"but declaring nothing (`sempervirens admin project update NAME --metrics FILE`)",
              file=sys.stderr)


def _stopped(command: str, error: Exception) -> int:
    print(redact.line(f"sempervirens {command}: {str(error).splitlines()[0]}"), file=sys.stderr)
    return 1


def aggregate(args: argparse.Namespace) -> int:
    from ..aggregate._commands import open_stores_of
    from ..progress import Progress
    from .background import cycle_lock, explained_errors
    from .run import run_cycle

    values, stores = open_stores_of(args)
    try:
        with cycle_lock(stores) as lock:
            if lock is None:
                print("sempervirens aggregate: another cycle is running; nothing done",
                      file=sys.stderr)
                return 1
            with Progress("aggregate: one cycle", total=None):  # a terminal sees it run
                report = run_cycle(stores, values, purge=not args.no_purge, lock=lock)
        undeclared = _undeclared(stores)
    except explained_errors() as error:
        return _stopped("aggregate", error)
    finally:
        stores.dispose()
    print(f"sealed {len(report.sealed_days)} days; released {len(report.releases)} periods; "
          f"{len(report.private_days)} private days; {report.enriched} addresses enriched; "
          f"{report.anomalies} anomalies ({report.anomaly_pings} pings); "
          f"{report.deleted_clients} clients deleted; {report.purged_rows} rows purged")
    _say_undeclared("aggregate", undeclared)
    return 0


def release(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from ..aggregate._commands import open_stores_of
    from ..progress import Progress
    from .background import cycle_lock, explained_errors
    from .run import release_closed_periods, seal_closed_days

    values, stores = open_stores_of(args)
    now = datetime.now(timezone.utc)
    try:
        with cycle_lock(stores) as lock:
            if lock is None:
                print("sempervirens release: a cycle is running; nothing done", file=sys.stderr)
                return 1
            with Progress("release: seal closed days, then release", total=2) as bar:
                sealed = seal_closed_days(stores, values, now)
                bar()
                lock.check()
                released = release_closed_periods(stores, values, now)
                bar()
        undeclared = _undeclared(stores)
    except explained_errors() as error:
        return _stopped("release", error)
    finally:
        stores.dispose()
    print(f"sealed {len(sealed)} days; released {len(released)} periods to "
          f"{values['releases_dir']}")
    _say_undeclared("release", undeclared)
    return 0
