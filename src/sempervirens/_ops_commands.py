"""Operator commands: `sempervirens backup DEST`, `restore SRC`, `check`.

A module of its own, outside the layers: these commands reach across them (the
stores, the lake, deletion, retention), and import them only when run, so that the
command line starts with the standard library alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import redact, settings

DIAGNOSED = ("secret_key", "tls_cert", "tls_key", "dns_server")  # by `check`
DEPLOYMENT_SETTINGS = (*settings.STORES, "lake", "releases_dir", "secret_key")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "backup", help="back up both stores, the lake and the releases to a new directory",
        description="Copy both stores (SQLite's online backup, or pg_dump), the lake and the "
                    "published datasets into DEST, with a manifest of checksums. Safe while "
                    "the server runs.",
        epilog="example: sempervirens backup /srv/backups/sempervirens-$(date +%%F)")
    parser.add_argument("destination", metavar="DEST", help="a directory that does not exist yet")
    settings.add_arguments(parser, *DEPLOYMENT_SETTINGS)
    parser.set_defaults(func=backup_command)

    parser = subparsers.add_parser(
        "restore", help="restore a backup (servers stopped)",
        description="Verify every checksum of the backup SRC, then restore both stores, the lake "
                    "and the published datasets; re-apply the deletions the target recorded "
                    "since the backup and purge addresses past retention. Stop the servers first.",
        epilog="example: sempervirens restore /srv/backups/sempervirens-2026-12-01 --force")
    parser.add_argument("source", metavar="SRC", help="a directory written by `sempervirens backup`")
    parser.add_argument("--force", action="store_true",
                        help="replace stores and a lake that hold data (published datasets are kept)")
    settings.add_arguments(parser, *DEPLOYMENT_SETTINGS, "retention_days")
    parser.set_defaults(func=restore_command)

    parser = subparsers.add_parser(
        "check", help="check a deployment: stores, migrations, secret key, TLS, DNS, disk, lake, "
                 "engine",
        description="One line per check, ok or FAIL with why; exits 1 when any check fails. "
                    "Reads only: creates nothing.",
        epilog="example: sempervirens check --data-dir /var/lib/sempervirens")
    settings.add_arguments(parser, *dict.fromkeys((*DEPLOYMENT_SETTINGS, *settings.ENGINE,
                                                   *DIAGNOSED)))
    # What `check` diagnoses is its output (a FAIL line each), not refused before it runs.
    parser.set_defaults(func=check_command, settings=tuple(
        name for name in parser.get_default("settings") if name not in DIAGNOSED))


def _deployment(values: dict):
    from .store.backup import Deployment

    base = Path(values["data_dir"]).absolute()
    return Deployment(
        telemetry_url=values["database"] or f"sqlite:///{base / 'telemetry.db'}",
        private_url=values["private_database"] or f"sqlite:///{base / 'private.db'}",
        lake=values["lake"], releases_dir=values["releases_dir"],
        key_file=None if values["secret_key"] else str(base / "secret.key"))


def _fail(command: str, message: str) -> int:
    print(redact.line(f"sempervirens {command}: {message}"), file=sys.stderr)
    return 1


def backup_command(args: argparse.Namespace) -> int:
    import sqlite3

    from sqlalchemy.exc import SQLAlchemyError

    from .store.backup import BackupError, backup, shown

    values = settings.resolve(args)
    deployment = _deployment(values)
    print(f"stores: telemetry {shown(deployment.telemetry_url)}, private {shown(deployment.private_url)}")
    try:
        manifest = backup(deployment, args.destination)
    except BackupError as error:
        return _fail("backup", f"{error}; nothing written")
    except (SQLAlchemyError, sqlite3.Error) as error:
        return _fail("backup", f"{_first_line(error)}; nothing written")
    except OSError as error:
        return _fail("backup", f"{error.filename or args.destination}: {error.strerror or error}; "
                               f"nothing written")
    size = sum(f["bytes"] for f in manifest["files"].values())
    lake = manifest["lake"]
    print(f"backed up: telemetry store at revision {manifest['stores']['telemetry']['revision']}, "
          f"private store at revision {manifest['stores']['private']['revision']}, "
          f"{lake['files'] if lake else 0} lake file(s), {manifest['releases']} published dataset(s)"
          f"{', the secret key' if manifest['secret_key'] else ''}")
    where = redact.escaped(str(Path(args.destination).absolute()))
    print(f"{len(manifest['files'])} file(s), {size} bytes in {where}")
    if manifest["secret_key"]:
        print("the backup holds the secret key and IP addresses: keep it as private as the "
              "private store, and no longer than the retention period")
    return 0


def restore_command(args: argparse.Namespace) -> int:
    import sqlite3

    from sqlalchemy.exc import SQLAlchemyError

    from .store.backup import (BackupError, check_restorable, published_since, read_manifest,
                               restore, shown, target_holds_data, verify)
    from .store.lake import LakeError

    values = settings.resolve(args)
    if values["retention_days"] < 1:
        return _fail("restore", f"--retention-days {values['retention_days']}: must be at least 1; "
                                f"nothing restored")
    deployment = _deployment(values)
    print(f"stores: telemetry {shown(deployment.telemetry_url)}, private {shown(deployment.private_url)}")
    try:
        manifest = read_manifest(args.source)
        problems = verify(args.source)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            return _fail("restore", f"{args.source} is damaged: {problems[0]}{more}; nothing restored")
        check_restorable(manifest, deployment)
        held = target_holds_data(deployment)
        if held and not args.force:
            return _fail("restore", f"the target holds data ({'; '.join(held)}); nothing restored "
                                    f"(add --force to replace it)")
        newer = published_since(args.source, values["releases_dir"])
        if newer:
            return _fail("restore", f"{len(newer)} dataset(s) in {values['releases_dir']} were "
                                    f"published after this backup (first: {newer[0]}): the restored "
                                    f"store would release their periods again; restore a newer "
                                    f"backup (docs/operations.md, 'Backups'); nothing restored")
        saved = _saved_tombstones(deployment, values)
        # Kept on disk until the deletions are carried out again: a restore stopped part
        # way (kill, Ctrl-C, a full disk) has replaced the private store, and the next
        # restore would otherwise find only the backup's tombstones.
        _keep_pending_tombstones(values, saved)
    except (BackupError, LakeError) as error:
        return _fail("restore", f"{error}; nothing restored")
    except (SQLAlchemyError, sqlite3.Error) as error:
        return _fail("restore", f"{_first_line(error)}; nothing restored")
    except OSError as error:
        return _fail("restore", f"{error.filename or args.source}: {error.strerror or error}; "
                                f"nothing restored")
    try:
        report = restore(args.source, deployment)
    except (BackupError, LakeError, SQLAlchemyError, sqlite3.Error, OSError) as error:
        return _fail("restore", f"stopped part way: {_first_line(error)}; the target is incomplete: "
                                f"fix the cause and restore again with --force")
    print(f"restored the telemetry store (revision {report.stores['telemetry']}) and the private "
          f"store (revision {report.stores['private']}) from the backup of {manifest['started_at']}")
    print(f"restored {report.lake_files} lake file(s) into {redact.url(values['lake'])}; "
          f"{len(report.releases_added)} published dataset(s) added, "
          f"{len(report.releases_kept)} already here left as they are")
    try:
        status = _after_restore(values, saved)
    except (LakeError, SQLAlchemyError, sqlite3.Error, OSError) as error:
        return _fail("restore", f"the stores were restored, but carrying out the deletions since "
                                f"the backup and the retention purge failed: {_first_line(error)}; "
                                f"fix the cause and restore again with --force")
    if status == 0:
        _pending_tombstones_file(values).unlink(missing_ok=True)
    return status


PENDING_TOMBSTONES = ".restore-tombstones.json"


def _pending_tombstones_file(values: dict) -> Path:
    return Path(values["data_dir"]) / PENDING_TOMBSTONES


def _keep_pending_tombstones(values: dict, saved) -> None:
    """Write the tombstones read before the restore (keyed hashes, and the key they were
    made with) beside the secret key, mode 0600, replacing the file atomically."""
    import json
    import os

    path = _pending_tombstones_file(values)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump({"rows": [list(row) for row in saved.rows],
                   "key": saved.key.hex() if saved.key else None}, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def _saved_tombstones(deployment, values: dict):
    """The target's tombstones, read before it is replaced (deletions since the backup),
    with those an earlier restore that stopped part way kept on disk."""
    import json

    from .admin._secret import load_key
    from .admin.restored import SavedTombstones, saved_tombstones
    from .store import create_store_engine
    from .store.backup import BackupError, sqlite_path

    path = sqlite_path(deployment.private_url)
    if path is not None and not path.exists():
        saved = SavedTombstones((), None)
    else:
        engine = create_store_engine(deployment.private_url)
        try:
            saved = saved_tombstones(engine, load_key(values, create=False))
        finally:
            engine.dispose()
    pending = _pending_tombstones_file(values)
    if not pending.exists():
        return saved
    try:
        earlier = json.loads(pending.read_text())
        rows = tuple(tuple(row) for row in earlier["rows"])
        key = bytes.fromhex(earlier["key"]) if earlier["key"] else None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BackupError(f"{pending}: the tombstones kept by a restore that stopped part way "
                          f"cannot be read ({error})") from None
    # The earlier restore's rows were read from the deployment's own store, before any
    # restore replaced it: they are the ones to carry over, with their key.
    return SavedTombstones(tuple(dict.fromkeys(rows + saved.rows)), key or saved.key)


def _after_restore(values: dict, saved) -> int:
    """Bring the restored stores to this release's revisions, carry out again the deletions
    the backup does not know of, and purge addresses past retention."""
    from .admin._secret import load_key
    from .admin.restored import has_tombstones, reapply
    from .admin.tombstones import servers_key
    from .aggregate.retention import purge_expired
    from .store import open_stores

    stores = open_stores(values["data_dir"], values["database"], values["private_database"])
    try:
        key = load_key(values, create=False)
        if key is None and (saved.rows or has_tombstones(stores)):
            print("sempervirens restore: the stores were restored, but there is no secret key "
                  "(neither secret_key nor secret.key in the backup): the deletions recorded as "
                  "tombstones cannot be checked; set secret_key and run `sempervirens restore` "
                  "again", file=sys.stderr)
            return 1
        if key is not None:  # this deployment's key, whatever the backup's servers had
            servers_key(stores.private, key)
        added, deleted = reapply(stores, key, saved, lake=values["lake"]) if key else (0, 0)
        print(f"deletions since the backup: {added} tombstone(s) carried over, "
              f"{deleted} client(s) deleted again")
        purged = purge_expired(stores, values["retention_days"])
        print(f"retention ({values['retention_days']} days): {purged} row(s) with addresses purged "
              f"(days not aggregated yet are purged by the next cycle, once aggregated)")
    finally:
        stores.dispose()
    return 0


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


def check_command(args: argparse.Namespace) -> int:
    from ._deployment_checks import run_checks

    values = settings.resolve(args)
    results = run_checks(values)
    for result in results:
        print(result.line())
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"sempervirens check: {len(failed)} of {len(results)} checks failed", file=sys.stderr)
        return 1
    print(f"all {len(results)} checks passed")
    return 0
