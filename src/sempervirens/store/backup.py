"""Backups of a deployment, and restoring one: both stores, the lake, the releases.

A backup is a directory:

    manifest.json          what it holds: versions, store kinds and revisions, times,
                           and the size and sha256 of every other file (written last)
    telemetry.sqlite       SQLite's online backup API: a consistent copy while serving
    private.sqlite           (or telemetry.pgdump, private.pgdump: pg_dump --format=custom)
    secret.key             the key of the tombstones, when it is a file in the data dir
    lake/manifest.json     the lake's manifest and every file it lists
    lake/<table>/day=.../part-*.parquet
    releases/<project>/<dataset>/...   the published datasets

It is written under a temporary name beside DEST and renamed into place when
complete, so a directory named DEST with a manifest is a whole backup.  While the
stores are copied the lake's lock is held: no day is sealed or pruned from the hot
store meanwhile, so the lake and the stores agree.

Restoring verifies every checksum first, refuses a target that holds data unless
forced, and never removes or rewrites a published dataset (the releases are the
public record).  What a restore must do afterwards (tombstones, retention) is the
caller's: see sempervirens/_ops_commands.py and docs/operations.md, "Backups".
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .. import redact
from ._engines import create_store_engine

FORMAT = 1
MANIFEST = "manifest.json"
STORES = ("telemetry", "private")
SECRET_FILE = "secret.key"  # as admin/_secret.py names it in the data directory
_CHUNK = 1 << 20


class BackupError(Exception):
    """A backup cannot be made or restored; the message is one line for the operator."""


@dataclass(frozen=True)
class Deployment:
    """Where a deployment keeps its data (from the settings)."""
    telemetry_url: str
    private_url: str
    lake: str
    releases_dir: str
    key_file: str | None  # the secret key's file; None when the key is a setting


@dataclass
class RestoreReport:
    stores: dict[str, str] = field(default_factory=dict)  # store -> revision restored
    lake_files: int = 0
    releases_added: list[str] = field(default_factory=list)
    releases_kept: list[str] = field(default_factory=list)  # already published here, left alone


def shown(url: str) -> str:
    """A store's URL for messages: never its password."""
    try:
        make_url(url)
    except ArgumentError:
        return "(not a database URL)"
    return redact.url(url)


def store_kind(url: str) -> str:
    try:
        name = make_url(url).get_backend_name()
    except ArgumentError:
        raise BackupError(f"{redact.url(url)!r} is not a database URL (such as "
                          f"postgresql://user@host/database)") from None
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"{shown(url)}: backups handle SQLite and PostgreSQL stores only")
    return name


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite store; None for another database."""
    store_kind(url)
    parsed = make_url(url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database else None


def require_store(name: str, url: str) -> None:
    """Refuse a SQLite store that does not exist: only `serve` creates one."""
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        raise BackupError(f"no {name} store at {path} (only `sempervirens serve` creates one; "
                          f"check --data-dir or --database)")


# -- backup --------------------------------------------------------------------


def backup(deployment: Deployment, destination: str | os.PathLike) -> dict:
    """Write a backup of this deployment to `destination` (which must not exist, or be
    an empty directory); returns its manifest."""
    from ..progress import Progress
    from .lake import Lake, LakeError

    destination = Path(destination).absolute()
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise BackupError(f"{destination} exists and is not an empty directory: choose a new one")
    for name, url in zip(STORES, (deployment.telemetry_url, deployment.private_url)):
        store_kind(url)
        require_store(name, url)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.partial-", dir=destination.parent))
    manifest = {"format": FORMAT, "sempervirens": _version(),
                "started_at": _now(), "stores": {}, "lake": None, "releases": 0, "secret_key": False}
    try:
        lake = Lake(deployment.lake)
        with _lake_lock(lake), Progress("backup: stores, lake, datasets", total=4) as done:
            for name, url in zip(STORES, (deployment.telemetry_url, deployment.private_url)):
                manifest["stores"][name] = _backup_store(name, url, staging)
                done()
            manifest["lake"] = _backup_lake(lake, staging / "lake")
            done()
            manifest["releases"] = _backup_releases(Path(deployment.releases_dir),
                                                    staging / "releases")
            done()
        if deployment.key_file and Path(deployment.key_file).is_file():
            shutil.copyfile(deployment.key_file, staging / SECRET_FILE)
            os.chmod(staging / SECRET_FILE, 0o600)
            manifest["secret_key"] = True
        manifest["finished_at"] = _now()
        manifest["files"] = {path: {"bytes": size, "sha256": digest}
                             for path, (size, digest) in _digests(staging).items()}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        _sync_tree(staging)  # and each file readable by its owner only: IPs, the key
        if destination.exists():
            destination.rmdir()  # empty, checked above
        os.replace(staging, destination)
    except LakeError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise BackupError(f"the lake: {error}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _backup_store(name: str, url: str, staging: Path) -> dict:
    kind = store_kind(url)
    engine = create_store_engine(url)
    try:
        revision = _revision(engine, name, url)
        if kind == "sqlite":
            file = f"{name}.sqlite"
            _sqlite_copy(sqlite_path(url), staging / file)
        else:
            file = f"{name}.pgdump"
            _run_pg("pg_dump", url, ["--format=custom", "--no-owner", "--no-acl",
                                     "--file", str(staging / file)], f"the {name} store")
    finally:
        engine.dispose()
    return {"kind": kind, "file": file, "revision": revision}


def _revision(engine: Engine, name: str, url: str) -> str | None:
    from .migrations import current

    try:
        heads = current(engine)
    except Exception as error:  # noqa: BLE001 - any driver error: one line, no password
        raise BackupError(f"cannot reach the {name} store {shown(url)}: {_first_line(error)}") from None
    return heads[0] if heads else None


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: one consistent snapshot, while the writer goes on (WAL)."""
    with closing(sqlite3.connect(f"file:{source}?mode=rw", uri=True, timeout=30)) as src, \
            closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    _check_sqlite(target)


def _check_sqlite(path: Path) -> None:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        result = connection.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise BackupError(f"{path}: SQLite reports the copy damaged ({result})")


def _backup_lake(lake, target: Path) -> dict | None:
    manifest = lake.manifest()
    if not manifest["days"]:
        return None
    files = [f["path"] for sealed in manifest["days"].values() for f in sealed["files"]]
    for relative in files:
        out = target / relative
        out.parent.mkdir(parents=True, exist_ok=True)
        with lake.fs.open_input_stream(lake.path(relative)) as stream, open(out, "wb") as handle:
            while chunk := stream.read(_CHUNK):
                handle.write(chunk)
    target.mkdir(parents=True, exist_ok=True)
    (target / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return {"location": lake.shown, "days": len(manifest["days"]), "files": len(files)}


def _backup_releases(source: Path, target: Path) -> int:
    if not source.is_dir():
        return 0
    datasets = _datasets(source)
    for relative in datasets:
        shutil.copytree(source / relative, target / relative)
    return len(datasets)


def _datasets(releases: Path) -> list[str]:
    """Published dataset directories (<project>/<dataset>), not ones being written."""
    if not releases.is_dir():
        return []
    return sorted(f"{p.parent.name}/{p.name}" for p in releases.glob("*/*")
                  if p.is_dir() and not p.name.startswith("."))


# -- restore -------------------------------------------------------------------


def read_manifest(source: str | os.PathLike) -> dict:
    path = Path(source) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise BackupError(f"{source}: not a backup (no {MANIFEST}; an interrupted backup has none)") from None
    except (OSError, ValueError) as error:
        raise BackupError(f"{path}: cannot be read as a backup manifest ({_first_line(error)})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: unknown backup format")
    try:
        for name in STORES:
            saved = manifest["stores"][name]
            assert saved["kind"] in ("sqlite", "postgresql") and isinstance(saved["file"], str)
        assert all(isinstance(f["bytes"], int) and isinstance(f["sha256"], str)
                   for f in manifest["files"].values())
        assert isinstance(manifest["started_at"], str)
    except (KeyError, TypeError, AttributeError, AssertionError):
        raise BackupError(f"{path}: not a manifest this release reads (a field is missing)") from None
    return manifest


def verify(source: str | os.PathLike) -> list[str]:
    """Every file the manifest lists, re-read: one line per problem; empty if intact."""
    source = Path(source)
    manifest = read_manifest(source)
    problems = []
    found = _digests(source, skip={MANIFEST})
    for relative, expected in sorted(manifest["files"].items()):
        if relative not in found:
            problems.append(f"{relative}: missing")
        elif found[relative] != (expected["bytes"], expected["sha256"]):
            problems.append(f"{relative}: size or sha256 differs from the manifest (damaged)")
    for relative in sorted(set(found) - set(manifest["files"])):
        problems.append(f"{relative}: not listed in the manifest")
    return problems


def target_holds_data(deployment: Deployment) -> list[str]:
    """What in the target would be overwritten: one line per store or lake holding data."""
    from .lake import Lake

    held = []
    for name, url in zip(STORES, (deployment.telemetry_url, deployment.private_url)):
        store_kind(url)
        path = sqlite_path(url)
        if path is not None and not path.exists():
            continue
        engine = create_store_engine(url)
        try:
            with engine.connect() as connection:
                if inspect(connection).get_table_names():
                    held.append(f"the {name} store {shown(url)}")
        except Exception as error:  # noqa: BLE001 - one line, no password
            raise BackupError(f"cannot reach the {name} store {shown(url)}: {_first_line(error)}") from None
        finally:
            engine.dispose()
    if Lake(deployment.lake).manifest()["days"]:
        held.append(f"the lake {deployment.lake}")
    return held


def check_restorable(manifest: dict, deployment: Deployment) -> None:
    """Refuse a backup this release or this target cannot take."""
    from alembic.script import ScriptDirectory

    from .migrations import config

    for name, url in zip(STORES, (deployment.telemetry_url, deployment.private_url)):
        saved = manifest["stores"][name]
        if store_kind(url) != saved["kind"]:
            raise BackupError(f"the backup's {name} store is {saved['kind']}, the target "
                              f"{shown(url)} is not: restore into the same kind of store")
        known = {r.revision for r in ScriptDirectory.from_config(config(name)).walk_revisions()}
        if saved["revision"] is not None and saved["revision"] not in known:
            raise BackupError(f"the backup's {name} store is at revision {saved['revision']}, "
                              f"unknown to this release: restore it with the release that made it")


def restore(source: str | os.PathLike, deployment: Deployment) -> RestoreReport:
    """Restore a verified backup into the target (the caller checked it may overwrite)."""
    source = Path(source)
    manifest = read_manifest(source)
    report = RestoreReport()
    for name, url in zip(STORES, (deployment.telemetry_url, deployment.private_url)):
        saved = manifest["stores"][name]
        if saved["kind"] == "sqlite":
            _restore_sqlite(source / saved["file"], sqlite_path(url))
        else:
            _restore_postgres(source / saved["file"], url, name)
        report.stores[name] = saved["revision"] or "(empty)"
    if manifest.get("secret_key") and deployment.key_file:
        key_file = Path(deployment.key_file)
        key_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = key_file.with_name(f".{key_file.name}.restoring")
        shutil.copyfile(source / SECRET_FILE, temporary)
        os.chmod(temporary, 0o600)
        os.replace(temporary, key_file)
    report.lake_files = _restore_lake(source / "lake", deployment.lake, manifest["lake"] is not None)
    report.releases_added, report.releases_kept = _restore_releases(
        source / "releases", Path(deployment.releases_dir))
    return report


def _restore_sqlite(backup_file: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(target.parent, 0o700)  # the private store lives here
    with closing(sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)) as src, \
            closing(sqlite3.connect(target, timeout=30)) as dst:
        src.backup(dst)
    _check_sqlite(target)


def _restore_postgres(dump: Path, url: str, name: str) -> None:
    engine = create_store_engine(url)
    try:  # --force was given when tables exist: drop them all, then load the dump
        with engine.begin() as connection:
            for table in inspect(connection).get_table_names():
                connection.exec_driver_sql(f'DROP TABLE IF EXISTS "{table}" CASCADE')
    except Exception as error:  # noqa: BLE001 - one line, no password
        raise BackupError(f"cannot empty the {name} store {shown(url)}: {_first_line(error)}") from None
    finally:
        engine.dispose()
    _run_pg("pg_restore", url, ["--no-owner", "--no-acl", "--single-transaction",
                                "--exit-on-error", str(dump)], f"the {name} store")


def _restore_lake(saved: Path, location: str, present: bool) -> int:
    from .lake import Lake, LakeError

    lake = Lake(location)
    try:
        if not present:
            if lake.manifest()["days"]:
                with lake.lock():
                    lake.write_manifest({"format": 1, "days": {}})
                    lake.clean()
            return 0
        manifest = json.loads((saved / "manifest.json").read_text())
        with lake.lock():
            files = [f["path"] for sealed in manifest["days"].values() for f in sealed["files"]]
            for relative in files:
                temporary = lake.temporary(relative)
                with open(saved / relative, "rb") as handle, \
                        lake.fs.open_output_stream(lake.path(temporary)) as stream:
                    while chunk := handle.read(_CHUNK):
                        stream.write(chunk)
                lake.publish(temporary, relative)
            lake.write_manifest(manifest)
            lake.clean()  # files of the target's own days that the backup does not list
    except LakeError as error:
        raise BackupError(f"the lake {location}: {error}") from None
    return len(files)


def _restore_releases(saved: Path, target: Path) -> tuple[list[str], list[str]]:
    """Add the backup's datasets; one already here is the published record: left alone."""
    added, kept = [], []
    for relative in _datasets(saved):
        if (target / relative).exists():
            kept.append(relative)
            continue
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".writing-", dir=(target / relative).parent))
        shutil.rmtree(staging)
        shutil.copytree(saved / relative, staging)
        os.replace(staging, target / relative)
        added.append(relative)
    return added, kept


def published_since(source: str | os.PathLike, releases_dir: str) -> list[str]:
    """Datasets published here that the backup does not hold: released after it was made.
    The restored store would not record them, and the cycle would release their periods
    again (docs/operations.md, "Backups")."""
    return sorted(set(_datasets(Path(releases_dir))) - set(_datasets(Path(source) / "releases")))


# -- PostgreSQL's tools ----------------------------------------------------------


def pg_tool(name: str) -> str:
    """pg_dump or pg_restore: on PATH, else Debian's newest /usr/lib/postgresql/N/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    candidates.sort(key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0, reverse=True)
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return candidate
    raise BackupError(f"{name} not found: install PostgreSQL's client tools "
                      f"(Debian: apt-get install postgresql-client)")


def _run_pg(tool: str, url: str, arguments: list[str], what: str) -> None:
    parsed = make_url(url)
    environment = dict(os.environ)
    # The password, after the user name or in the query, not on the command line where
    # `ps` would show it.
    query = dict(parsed.query)
    in_query = query.pop("password", None)
    password = parsed.password or in_query
    if password:
        environment["PGPASSWORD"] = str(password)
    libpq_url = parsed.set(drivername="postgresql", password=None, query=query) \
        .render_as_string(hide_password=False)
    command = [pg_tool(tool), "--dbname", libpq_url, *arguments]
    done = subprocess.run(command, capture_output=True, text=True, env=environment)
    if done.returncode != 0:
        message = _first_line(done.stderr) if done.stderr.strip() else f"exit status {done.returncode}"
        raise BackupError(f"{tool} of {what} {shown(url)} failed: {message}")


# -- files -------------------------------------------------------------------------


def _digests(root: Path, skip: set[str] = frozenset()) -> dict[str, tuple[int, str]]:
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            relative = path.relative_to(root).as_posix()
            if relative in skip:
                continue
            sha, size = hashlib.sha256(), 0
            with open(path, "rb") as handle:
                while chunk := handle.read(_CHUNK):
                    sha.update(chunk)
                    size += len(chunk)
            found[relative] = (size, sha.hexdigest())
    return found


def _sync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_dir():
            os.chmod(path, 0o700)
        elif path.is_file():
            os.chmod(path, 0o600)
            descriptor = os.open(path, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)


class _lake_lock:
    """The lake's lock while the stores are copied; no lock (and no directory made)
    for a local lake that does not exist yet."""

    def __init__(self, lake) -> None:
        self._lake = lake
        self._held = None

    def __enter__(self):
        if self._lake.local and not Path(self._lake.root).is_dir():
            return self
        self._held = self._lake.lock()
        self._held.__enter__()
        return self

    def __exit__(self, *exc_info):
        if self._held is not None:
            return self._held.__exit__(*exc_info)
        return False


def _version() -> str:
    from .. import __version__

    return __version__


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _first_line(error) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
