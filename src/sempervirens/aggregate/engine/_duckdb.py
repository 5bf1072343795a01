"""The DuckDB runner: the queries in-process, under a memory limit, spilling to disk."""

from __future__ import annotations

from ...model.lake import BOOL, INT32, INT64, LAKE_TABLES, PARTITION, STRING, TIMESTAMP
from ...settings import ENGINE_MEMORY_MINIMUM, engine_memory, machine_memory
from ._temp import JobTempDir
from ._tables import DATE, SMALL_TABLES
from .errors import EngineError

_TYPES = {STRING: "VARCHAR", INT32: "INTEGER", INT64: "BIGINT", BOOL: "BOOLEAN",
          TIMESTAMP: "TIMESTAMPTZ", DATE: "DATE"}


# What DuckDB reads itself (its httpfs and azure extensions); others go through fsspec.
_NATIVE_SCHEMES = {"s3", "s3a", "s3n", "r2", "gs", "gcs", "az", "azure", "abfss", "http",
                   "https", "hf"}


def quarter_of_memory() -> str:
    """The default memory limit: a quarter of the machine's memory (at least the minimum)."""
    return f"{max(machine_memory() // 4, ENGINE_MEMORY_MINIMUM) // 2**20}MiB"


# DuckDB's memory_limit bounds its buffer manager, not what it allocates beside it
# (Parquet readers, per-thread state) nor the Python process around it: 200 to 300 MiB
# on small jobs, about a sixth of the buffers on big ones.  Its buffers get BUFFER_SHARE
# of what the engine's limit leaves after RESERVE, so that the process as a whole
# stays within the limit the operator set (measured from 512 MiB to 6 GiB:
# docs/performance.md, tests/aggregate/test_engine_memory.py).
BUFFER_SHARE = 0.8
RESERVE = 256 * 2**20


def buffer_limit(memory_limit: str | None) -> str:
    """DuckDB's memory_limit for an engine limit such as 8GB (default: a quarter of RAM)."""
    try:
        amount = engine_memory(memory_limit or quarter_of_memory())
    except ValueError as error:
        raise EngineError(f"memory limit: {error}") from None
    return f"{int((amount - RESERVE) * BUFFER_SHARE) // 2**20}MiB"


# The day of a lake file, from its own directory (the last before the file name).
_DAY_OF_FILE = PARTITION + r"=([0-9]{4}-[0-9]{2}-[0-9]{2})[/\\][^/\\]*$"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBRunner:
    """One in-memory DuckDB connection; `load` (re)defines the views the queries read."""

    name = "duckdb"

    def __init__(self, memory_limit: str | None = None, threads: int | None = None,
                 temp_dir: str | None = None) -> None:
        import duckdb

        limit = buffer_limit(memory_limit)  # a refused value leaves no directory behind
        self._registered: set[str] = set()
        self.temp = JobTempDir(temp_dir)
        config = {"memory_limit": limit,
                  "temp_directory": self.temp.path,
                  "preserve_insertion_order": False}
        if threads:
            config["threads"] = int(threads)
        try:
            self.connection = duckdb.connect(":memory:", config=config)
        except duckdb.Error as error:
            self.close()
            raise EngineError(f"duckdb: {str(error).splitlines()[0]}") from None
        # A long query would draw a progress bar on stdout: the server's log stream.
        self.connection.execute("SET enable_progress_bar = false")

    def load(self, files: dict[str, list[str]], small: dict[str, list[tuple]]) -> None:
        """Views of the lake's tables named in `files`, and the `small` tables."""
        import pyarrow as pa

        con = self.connection
        self._register_filesystems({p.split("://", 1)[0] for ps in files.values() for p in ps
                                    if "://" in p})
        for table in LAKE_TABLES:
            if table.name not in files:
                continue
            paths = files[table.name]
            present: set[str] = set()
            source = "(SELECT 1) AS no_file WHERE false"  # no file: the same columns, no row
            day = f'CAST(NULL AS DATE) AS "{PARTITION}"'
            if paths:
                listed = ", ".join(_quote(p) for p in paths)
                # union_by_name: days sealed before a column was added read it as NULL.
                # Not hive_partitioning: DuckDB takes every key=value directory of the whole
                # path as a column, overriding the file's (a lake under /srv/project=x/
                # would count every ping as project x's); only the file's own day= is.
                source = (f"read_parquet([{listed}], hive_partitioning = false, "
                          f"union_by_name = true, filename = true)")
                present = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
                day = (f"CAST(REGEXP_EXTRACT(filename, {_quote(_DAY_OF_FILE)}, 1) AS DATE) "
                       f'AS "{PARTITION}"')
            # Every column of today's lake, NULL where no file has it (all sealed before it).
            columns = [f'"{c}"' if c in present else f'CAST(NULL AS {_TYPES[t]}) AS "{c}"'
                       for c, t in table.columns] + [day]
            con.execute(f"CREATE OR REPLACE TEMP VIEW {table.name} AS "
                        f"SELECT {', '.join(columns)} FROM {source}")
        arrow_types = {STRING: pa.string(), DATE: pa.date32(), BOOL: pa.bool_()}
        for name, rows in small.items():
            columns = SMALL_TABLES[name]
            values = list(zip(*rows)) or [()] * len(columns)
            arrow = pa.table({c: pa.array(v, arrow_types[t]) for (c, t), v in zip(columns, values)})
            con.register(f"{name}_arrow", arrow)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
            con.unregister(f"{name}_arrow")

    def _register_filesystems(self, schemes: set[str]) -> None:
        """A lake on a filesystem DuckDB does not read itself is read through fsspec."""
        for scheme in sorted(schemes - _NATIVE_SCHEMES - self._registered):
            import fsspec

            try:
                self.connection.register_filesystem(fsspec.filesystem(scheme))
            except (ImportError, ValueError) as error:
                raise EngineError(f"duckdb: cannot read {scheme}:// files: {error}") from None
            self._registered.add(scheme)

    def rows(self, sql: str) -> list[tuple]:
        import duckdb

        try:
            return self.connection.execute(sql).fetchall()
        except duckdb.Error as error:
            raise EngineError(f"duckdb: {str(error).splitlines()[0]}") from None

    def close(self) -> None:
        connection = getattr(self, "connection", None)
        if connection is not None:
            connection.close()
            self.connection = None
        self.temp.remove()
