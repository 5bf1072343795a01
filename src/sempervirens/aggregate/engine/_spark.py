"""The Spark runner: the same queries, transpiled from DuckDB SQL with SQLGlot."""

from __future__ import annotations

import functools
import os
import re
import shutil
import socket
import sys
from pathlib import Path

from ...model.lake import BOOL, INT32, INT64, LAKE_TABLES, PARTITION, STRING, TIMESTAMP
from ._tables import DATE, SMALL_TABLES, hive_base
from ._temp import JobTempDir
from .errors import EngineError


LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")


@functools.lru_cache(maxsize=64)
def to_spark(sql: str) -> str:
    """One query definition (DuckDB SQL) in Spark SQL: mechanical, by SQLGlot."""
    import sqlglot

    (spark_sql,) = sqlglot.transpile(sql, read="duckdb", write="spark",
                                     unsupported_level=sqlglot.ErrorLevel.RAISE)
    return spark_sql


def _schema(columns):
    from pyspark.sql import types as T

    kinds = {STRING: T.StringType(), INT32: T.IntegerType(), INT64: T.LongType(),
             BOOL: T.BooleanType(), TIMESTAMP: T.TimestampType(), DATE: T.DateType()}
    return T.StructType([T.StructField(name, kinds[kind], True) for name, kind in columns])


class SparkRunner:
    """A Spark session at `master` (local[N] in the tests, spark://… on a cluster).

    Each `load` registers the views in a new session of the same SparkContext, so
    jobs do not see each other's views; `close` stops the context it started.
    """

    name = "spark"

    def __init__(self, master: str = "local[2]", temp_dir: str | None = None,
                 conf: dict[str, str] | None = None) -> None:
        preflight(master)
        from pyspark.sql import SparkSession

        self.temp = JobTempDir(temp_dir)
        # Python workers run this interpreter (its packages), not whatever `python3` is.
        # No progress bar and errors only (LOG_CONFIG): stderr is the server's log stream.
        builder = (SparkSession.builder.master(master).appName("sempervirens-engine")
                   .config("spark.sql.session.timeZone", "UTC")
                   .config("spark.pyspark.python", sys.executable)
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.driver.extraJavaOptions",
                           f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}")
                   .config("spark.local.dir", self.temp.path))
        for key, value in (conf or {}).items():
            builder = builder.config(key, value)
        try:
            self._root = builder.getOrCreate()
        except Exception as error:  # the JVM failed to start, a bad master URL
            self.temp.remove()
            raise EngineError(f"spark: cannot start a session at {master}: "
                              f"{_reason(error)}") from None
        self.session = self._root

    def load(self, files: dict[str, list[str]], small: dict[str, list[tuple]]) -> None:
        """Views of the lake's tables named in `files`, and the `small` tables."""
        session = self.session = self._root.newSession()
        for table in LAKE_TABLES:
            if table.name not in files:
                continue
            paths = files[table.name]
            schema = _schema((*table.columns, (PARTITION, DATE)))
            if paths:
                bases = {hive_base(p) for p in paths}
                if len(bases) > 1:
                    raise EngineError(f"{table.name}: files from more than one lake: "
                                      f"{', '.join(sorted(bases))}")
                frame = (session.read.schema(schema).option("basePath", bases.pop())
                         .parquet(*paths))
            else:
                frame = session.createDataFrame([], schema)
            frame.createOrReplaceTempView(table.name)
        for name, rows in small.items():
            session.createDataFrame(rows, _schema(SMALL_TABLES[name])).createOrReplaceTempView(name)

    def rows(self, sql: str) -> list[tuple]:
        try:
            return [tuple(row) for row in self.session.sql(to_spark(sql)).collect()]
        except Exception as error:
            raise EngineError(f"spark: {str(error).splitlines()[0]}") from None

    def close(self) -> None:
        self._root.stop()
        self.temp.remove()


def preflight(master: str) -> None:
    """What would otherwise fail only after the JVM has started, in a page of Java stack
    traces (or after a minute of retries): no pyspark, no Java, a master that does not
    answer."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise EngineError("the spark engine needs pyspark: pip install "
                          "'sempervirens[spark]' (and Java 17)") from None
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise EngineError("spark: no Java found: install Java 17 (Debian: "
                          "openjdk-17-jre-headless) or set JAVA_HOME")
    if master.startswith("spark://"):
        problems = []
        for address in master[len("spark://"):].split(","):  # several masters: standby ones
            host, _, port = address.rpartition(":")
            try:
                socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
                return
            except (OSError, ValueError) as error:
                problems.append(f"{address}: {getattr(error, 'strerror', None) or error}")
        raise EngineError(f"spark: cannot reach the master at {'; '.join(problems)}")


def _reason(error: Exception) -> str:
    """The line of a Java error that says why (Py4J's own first line does not)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in lines:
        if re.match(r"[\w.$]+(Exception|Error): ", line):
            return line
    return lines[0] if lines else type(error).__name__
