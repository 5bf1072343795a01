"""The Spark runner: the same queries, transpiled from DuckDB SQL with SQLGlot."""

from __future__ import annotations

import functools
import os
import re
import shutil
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

from ...model.lake import BOOL, INT32, INT64, LAKE_TABLES, PARTITION, STRING, TIMESTAMP
from ._tables import DATE, SMALL_TABLES, hive_base
from ._temp import JobTempDir
from .errors import EngineError


LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")
# Seconds a job on a cluster may go on with no executor at all (no worker up, none with
# the free cores and memory the job asks for, or every one lost) before it is cancelled:
# Spark itself waits for one forever, and says so only in a warning.
NO_EXECUTOR_TIMEOUT = 120.0


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
                 conf: dict[str, str] | None = None,
                 no_executor_timeout: float = NO_EXECUTOR_TIMEOUT) -> None:
        preflight(master)
        from pyspark.sql import SparkSession

        self.master = master
        self.no_executor_timeout = no_executor_timeout
        conf = dict(conf or {})
        # The operator's driver options come after ours, the log configuration kept
        # unless they name one of their own.
        java_options = f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}"
        theirs = conf.pop("spark.driver.extraJavaOptions", "").strip()
        if theirs:
            java_options = (theirs if "-Dlog4j2.configurationFile=" in theirs
                            else f"{java_options} {theirs}")
        self.temp = JobTempDir(temp_dir)
        # Python workers run this interpreter (its packages), not whatever `python3` is.
        # No progress bar and errors only (LOG_CONFIG): stderr is the server's log stream.
        builder = (SparkSession.builder.master(master).appName("sempervirens-engine")
                   .config("spark.sql.session.timeZone", "UTC")
                   .config("spark.pyspark.python", sys.executable)
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.driver.extraJavaOptions", java_options)
                   .config("spark.local.dir", self.temp.path))
        for key, value in conf.items():
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
        spark_sql = to_spark(sql)
        watch = None if self.master.startswith("local") else _ExecutorWatch(
            self._root.sparkContext, self.master, self.no_executor_timeout)
        try:
            if watch:
                watch.start()
            return [tuple(row) for row in self.session.sql(spark_sql).collect()]
        except Exception as error:
            if watch and watch.reason:
                raise EngineError(f"spark: {watch.reason}") from None
            raise EngineError(f"spark: {_reason(error)}") from None
        finally:
            if watch:
                watch.stop()

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


class _ExecutorWatch:
    """Cancels the calling thread's jobs once the application has had no executor for
    `timeout` seconds, and keeps the reason."""

    def __init__(self, context, master: str, timeout: float) -> None:
        self.context, self.master, self.timeout = context, master, timeout
        self.group = f"sempervirens-{uuid.uuid4().hex}"
        self.reason: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True,
                                        name="sempervirens-spark-watch")

    def start(self) -> None:
        self.context.setJobGroup(self.group, "sempervirens engine", True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _executors(self) -> int:
        # Block managers the driver knows, its own among them.
        return self.context._jsc.sc().getExecutorMemoryStatus().size() - 1

    def _watch(self) -> None:
        since = time.monotonic()
        while not self._done.wait(1.0):
            try:
                if self._executors() > 0:
                    since = time.monotonic()
                    continue
            except Exception:  # the context is stopping: the job fails by itself
                return
            if time.monotonic() - since >= self.timeout:
                self.reason = (
                    f"the job had no executor for {self.timeout:.0f} s and was cancelled: "
                    f"no worker of the master at {self.master} runs one (none registered, "
                    "none with the free cores and memory spark.executor.cores and "
                    "spark.executor.memory ask for, or every one lost)")
                try:
                    self.context.cancelJobGroup(self.group)
                except Exception:
                    pass
                return


def _reason(error: Exception) -> str:
    """The line of a Java error that says why (Py4J's own first line does not)."""
    # Py4J: "An error occurred while calling o1.f.\n: org.apache.spark.SparkException: why"
    lines = [line.strip().removeprefix(":").strip() for line in str(error).splitlines()]
    lines = [line for line in lines if line]
    for line in lines:
        if re.match(r"[\w.$]+(Exception|Error): ", line):
            return line
    if lines and "JAVA_GATEWAY_EXITED" in lines[0]:
        return f"{lines[0]} (the JVM's reason is on stderr, above: a --spark-conf value?)"
    return lines[0] if lines else type(error).__name__
