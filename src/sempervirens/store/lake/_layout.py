"""Where the lake is and what it holds: files, the manifest, atomic writes, the lock.

The manifest (`manifest.json`) is the truth: a file that it does not list is not
part of the lake (a leftover of an interrupted run, removed by the next one), and a
day it does not list is not sealed.  Every file is written under a temporary name in
`_tmp/`, flushed to disk, then renamed to its final, never reused name; the manifest
is written last, the same way.  So a crash at any point leaves the previous
manifest, which names only complete files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs

from ... import redact
from ...model.lake import BOOL, INT32, INT64, LAKE_TABLES, MANIFEST, PARTITION, STRING, TIMESTAMP

try:
    import fcntl
except ImportError:  # not Unix: the single-writer assumption holds alone
    fcntl = None

FORMAT = 1
TMP_DIR = "_tmp"  # leading underscore: Hive readers (Spark, DuckDB globs) skip it
TABLES = {table.name: table for table in LAKE_TABLES}
_ARROW_TYPES = {STRING: pa.string(), INT32: pa.int32(), INT64: pa.int64(), BOOL: pa.bool_(),
                TIMESTAMP: pa.timestamp("us", tz="UTC")}


class LakeError(Exception):
    """Something about the lake is wrong (location, manifest, a file)."""


def arrow_schema(table: str) -> pa.Schema:
    return pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in TABLES[table].columns])


def conform(table: str, batch: pa.RecordBatch) -> pa.Table:
    """A batch read from a file of `table` in today's schema: a column the file
    predates (a ping field added since it was sealed) is NULL."""
    schema = arrow_schema(table)
    names = batch.schema.names
    return pa.Table.from_arrays(
        [batch.column(name) if name in names else pa.nulls(batch.num_rows, schema.field(name).type)
         for name in schema.names], schema=schema)


def checkpoint(step: str) -> None:
    """A named point of a lake write.  Does nothing: the crash tests end the process here."""


@dataclass(frozen=True)
class FileEntry:
    table: str
    path: str  # relative to the lake, '/'-separated
    rows: int
    bytes: int
    sha256: str

    def as_json(self) -> dict:
        return {"table": self.table, "path": self.path, "rows": self.rows, "bytes": self.bytes,
                "sha256": self.sha256}


class Lake:
    """A lake: a local directory (the default), a URI pyarrow's filesystems open (s3://,
    gs://, hdfs://, file://), or one of any other fsspec filesystem (abfs://, memory://,
    ...).  Only one process writes to a lake at a time: on a local filesystem a lock
    file beside the manifest enforces it."""

    def __init__(self, location: str | os.PathLike) -> None:
        text = os.fspath(location)
        if "://" in text:
            try:
                self.fs, root = pafs.FileSystem.from_uri(text)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                self.fs, root = _fsspec(text, error)
            except OSError as error:
                raise LakeError(f"cannot open the lake {redact.url(text)!r}: {error}") from None
            self._scheme = text.split("://", 1)[0]
        else:
            try:
                root = str(Path(text).resolve())
            except (RuntimeError, OSError) as error:  # a symbolic link loop
                raise LakeError(f"cannot open the lake {redact.url(text)!r}: {error}") from None
            self.fs, self._scheme = pafs.LocalFileSystem(), ""
        self.root = root.rstrip("/") or "/"
        self.local = isinstance(self.fs, pafs.LocalFileSystem)
        self.location = text
        self.shown = redact.url(text)  # for messages: an s3://KEY:SECRET@ URI's secret hidden

    def __repr__(self) -> str:
        return f"Lake({self.shown!r})"

    # -- reading ---------------------------------------------------------------

    def path(self, relative: str) -> str:
        """The filesystem path (for self.fs) of a path relative to the lake."""
        return f"{self.root}/{relative}"

    def uri(self, relative: str) -> str:
        """What a reader opens: a local path, or scheme://path."""
        full = self.path(relative)
        return full if self.local or not self._scheme else f"{self._scheme}://{full}"

    def manifest(self) -> dict:
        """The manifest: {"format": 1, "days": {"YYYY-MM-DD": {"sealed_at", "files": [...],
        "late": [...], "rewrites": [...]}}}; an empty lake's has no days."""
        try:
            with self.fs.open_input_stream(self.path(MANIFEST)) as stream:
                data = stream.read()
        except OSError as error:
            if not (isinstance(error, FileNotFoundError) or _missing(error)):
                raise LakeError(f"cannot read {self.uri(MANIFEST)}: {error}") from None
            self._no_data_without_manifest()
            return {"format": FORMAT, "days": {}}
        try:
            manifest = json.loads(data)
        except ValueError:
            raise LakeError(f"{self.uri(MANIFEST)} is not JSON: the lake's manifest is damaged") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise LakeError(f"{self.uri(MANIFEST)}: unknown manifest format "
                            f"{manifest.get('format') if isinstance(manifest, dict) else None!r}")
        if not _well_formed(manifest):
            raise LakeError(f"{self.uri(MANIFEST)}: not a manifest of this lake (its days or "
                            f"files lack what every manifest has): damaged")
        return manifest

    def _no_data_without_manifest(self) -> None:
        """A lake without a manifest is empty.  If it holds data files, the manifest was
        lost (a bad copy, a slip): nothing may treat them as leftovers and remove them."""
        for table in TABLES:
            selector = pafs.FileSelector(self.path(table), recursive=True, allow_not_found=True)
            if any(info.type == pafs.FileType.File for info in self.fs.get_file_info(selector)):
                raise LakeError(f"{self.uri(MANIFEST)} is missing but the lake holds data files: "
                                f"restore it (from a backup) before anything writes to this lake")

    def exists(self) -> bool:
        """Whether the lake's directory (or prefix) is there at all."""
        return self.fs.get_file_info(self.root).type != pafs.FileType.NotFound

    def days(self) -> list[date]:
        """The sealed days, oldest first."""
        return sorted(date.fromisoformat(day) for day in self.manifest()["days"])

    def files(self, table: str, days=None) -> list[str]:
        """Paths (or URIs) of the table's files, for readers, e.g. DuckDB's
        read_parquet([...]) or Spark's spark.read.parquet(*files): each lies under
        `<table>/day=YYYY-MM-DD/` (its day: see docs/lake.md).  days: an iterable of dates (or
        'YYYY-MM-DD'), default every sealed day."""
        if table not in TABLES:
            raise LakeError(f"no lake table {table!r} (tables: {', '.join(TABLES)})")
        sealed = self.manifest()["days"]
        wanted = sorted(sealed) if days is None else sorted({str(d) for d in days} & set(sealed))
        return [self.uri(f["path"]) for day in wanted for f in sealed[day]["files"] if f["table"] == table]

    def client_rows(self, client_ids) -> dict[str, list[dict]]:
        """What the lake holds about these clients, table by table (for data export):
        {"pings": [row, ...], "counters": [...], "timings": [...]}, each row with its `day`."""
        from ._delete import client_rows

        return client_rows(self, client_ids)

    def verify(self, days=None) -> list[str]:
        """Re-read every file the manifest lists (of these days, 'YYYY-MM-DD', default
        all); one line per problem (missing file, size or sha256 differing from the
        manifest).  Empty: the lake is intact."""
        problems = []
        listed = self.manifest()["days"]
        for day, sealed in sorted(listed.items()):
            if days is not None and day not in days:
                continue
            for f in sealed["files"]:
                try:
                    size, digest = self.digest(f["path"])
                except (FileNotFoundError, LakeError):
                    problems.append(f"{day} {f['path']}: missing")
                    continue
                if size != f["bytes"]:
                    problems.append(f"{day} {f['path']}: {size} bytes, the manifest says {f['bytes']}")
                elif digest != f["sha256"]:
                    problems.append(f"{day} {f['path']}: sha256 differs from the manifest (corrupted)")
        return problems

    def digest(self, relative: str) -> tuple[int, str]:
        sha, size = hashlib.sha256(), 0
        try:
            with self.fs.open_input_stream(self.path(relative)) as stream:
                while chunk := stream.read(1 << 20):
                    sha.update(chunk)
                    size += len(chunk)
        except OSError as error:
            if isinstance(error, FileNotFoundError) or _missing(error):
                raise FileNotFoundError(relative) from None
            raise LakeError(f"cannot read {self.uri(relative)}: {error}") from None
        return size, sha.hexdigest()

    # -- writing (callers hold the lock) --------------------------------------------

    def new_file_name(self, table: str, day: str) -> str:
        """A name never used before: a rewritten file never takes its predecessor's place."""
        return f"{table}/{PARTITION}={day}/part-{uuid.uuid4().hex[:16]}.parquet"

    def temporary(self, final: str) -> str:
        self.fs.create_dir(self.path(TMP_DIR), recursive=True)
        return f"{TMP_DIR}/{uuid.uuid4().hex}-{final.replace('/', '_')}"

    def publish(self, temporary: str, final: str) -> None:
        """Move a complete, flushed temporary file to its final name (atomic rename locally)."""
        self.fs.create_dir(self.path(final.rsplit("/", 1)[0]), recursive=True)
        self.sync(temporary)
        self.fs.move(self.path(temporary), self.path(final))
        self.sync_dir(final.rsplit("/", 1)[0])

    def sync(self, relative: str) -> None:
        if self.local:
            descriptor = os.open(self.path(relative), os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)

    def sync_dir(self, relative: str) -> None:
        if self.local:
            with contextlib.suppress(OSError):  # some filesystems refuse fsync on a directory
                descriptor = os.open(self.path(relative) if relative else self.root, os.O_RDONLY)
                try:
                    os.fsync(descriptor)
                finally:
                    os.close(descriptor)

    def write_manifest(self, manifest: dict) -> None:
        data = json.dumps(manifest, indent=1, sort_keys=True).encode() + b"\n"
        temporary = self.temporary(MANIFEST)
        with self.fs.open_output_stream(self.path(temporary)) as stream:
            stream.write(data)
        checkpoint("manifest-written")
        self.sync(temporary)
        self.fs.move(self.path(temporary), self.path(MANIFEST))
        self.sync_dir("")
        checkpoint("manifest-renamed")

    def delete(self, relative: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(self.path(relative))

    def clean(self) -> list[str]:
        """Remove what a crashed run left: temporary files, and files the manifest does
        not list (written, or replaced by a rewrite, before the crash).  Returns them."""
        listed = {f["path"] for sealed in self.manifest()["days"].values() for f in sealed["files"]}
        removed = []
        selector = pafs.FileSelector(self.root, recursive=True, allow_not_found=True)
        for info in self.fs.get_file_info(selector):
            if info.type != pafs.FileType.File:
                continue
            relative = info.path[len(self.root):].lstrip("/")
            top = relative.split("/", 1)[0]
            if top == TMP_DIR or (top in TABLES and relative not in listed):
                self.delete(relative)
                removed.append(relative)
        return removed

    @contextlib.contextmanager
    def lock(self):
        """Exclusive right to write this lake: seal, prune's reading, deletion rewrites.
        A lock file beside the manifest (local lakes); for a lake on object storage,
        a lock file in this user's own directory of the machine's temporary one:
        writers on other machines are not excluded (they hold the cycle's lock:
        store/_cycle_lock.py)."""
        if self.local:
            self._make_private()
            lock_path = Path(self.root) / (MANIFEST + ".lock")
        else:
            key = hashlib.sha256(self.location.encode()).hexdigest()[:16]
            lock_path = _own_temporary_directory() / f"sempervirens-lake-{key}.lock"
        with open(lock_path, "a+b") as handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                if not self._has_manifest():
                    # Written before any data file: a lake with data files and no manifest
                    # is then always a lost manifest, never a first seal under way.
                    self._no_data_without_manifest()
                    self.write_manifest({"format": FORMAT, "days": {}})
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _make_private(self) -> None:
        """A local lake's data is its owner's alone, as the stores' (its files hold
        installation ids): the directories that hold it are 0700, whatever the umask
        (which made them 0755, every file readable by every local user when the lake lies
        outside the 0700 data directory).  Its root is made 0700 when it is made here;
        the lake's own directories are made 0700 again at each write, so a lake made
        before, or restored by a copy, is closed too."""
        root = Path(self.root)
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name in (*TABLES, TMP_DIR):
            directory = root / name
            directory.mkdir(mode=0o700, exist_ok=True)
            if directory.is_symlink() or not directory.is_dir():
                continue
            with contextlib.suppress(PermissionError):  # not ours: the operator's to mend
                if directory.stat().st_mode & 0o077:
                    os.chmod(directory, 0o700)

    def _has_manifest(self) -> bool:
        return self.fs.get_file_info(self.path(MANIFEST)).type == pafs.FileType.File


def _own_temporary_directory() -> Path:
    """`sempervirens-<uid>` in the system's temporary directory, made 0700 for this user.
    A lock file of a name anyone can compute, straight in a shared /tmp, could be made
    first by another local user (a link: opened and made wherever it pointed; a file of
    theirs: every write of the lake failed)."""
    path = Path(tempfile.gettempdir()) / f"sempervirens-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise LakeError(f"{path} is not a directory of this user's alone (mode 0700) to hold "
                        f"the lake's lock: remove it, or set TMPDIR to another directory")
    return path


def _fsspec(uri: str, why: Exception) -> tuple[pafs.FileSystem, str]:
    """A filesystem pyarrow does not know, through fsspec (its own reason if none knows it)."""
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise LakeError(f"cannot open the lake {redact.url(uri)!r}: {why}") from None
    try:
        fs, root = url_to_fs(uri)
    except (ImportError, ValueError, OSError) as error:
        raise LakeError(f"cannot open the lake {redact.url(uri)!r}: "
                        f"{str(error).splitlines()[0]}") from None
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), root


def _well_formed(manifest: dict) -> bool:
    days = manifest.get("days")
    return isinstance(days, dict) and all(
        isinstance(day, dict) and isinstance(day.get("files"), list) and all(
            isinstance(f, dict) and {"table", "path", "rows", "bytes", "sha256"} <= set(f)
            and _inside(f["path"]) for f in day["files"]) for day in days.values())


def _inside(path) -> bool:
    """A file's path in the manifest names a file of the lake: relative, no '..' (a path
    out of it was read by verify and, by a deletion's rewrite, replaced and removed)."""
    parts = path.split("/") if isinstance(path, str) else [""]
    return "\\" not in path and all(part not in ("", ".", "..") for part in parts)


def _missing(error: OSError) -> bool:
    text = str(error)
    return "No such file" in text or "not found" in text.lower() or "does not exist" in text


def now_text() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
