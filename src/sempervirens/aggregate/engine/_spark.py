"""The Spark runner: the same queries, transpiled from DuckDB SQL with SQLGlot."""

from __future__ import annotations

import functools
import sys

from ...model.lake import BOOL, INT32, INT64, LAKE_TABLES, PARTITION, STRING, TIMESTAMP
from ._runner import Runner
from ._tables import hive_base
from .errors import EngineError


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
             BOOL: T.BooleanType(), TIMESTAMP: T.TimestampType(), "date": T.DateType()}
    return T.StructType([T.StructField(name, kinds[kind], True) for name, kind in columns])


class SparkRunner(Runner):
    """A Spark session at `master` (local[N] in the tests, spark://… on a cluster); the
    daily tables are cached DataFrames.  `close` stops the context it started."""

    name = "spark"

    def __init__(self, master: str = "local[2]", temp_dir: str | None = None,
                 conf: dict[str, str] | None = None) -> None:
        super().__init__()
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise EngineError("the spark engine needs pyspark: pip install "
                              "'sempervirens[spark]' (and Java 17)") from None
        # Python workers run this interpreter (its packages), not whatever `python3` is.
        builder = (SparkSession.builder.master(master).appName("sempervirens-engine")
                   .config("spark.sql.session.timeZone", "UTC")
                   .config("spark.pyspark.python", sys.executable))
        if temp_dir:
            builder = builder.config("spark.local.dir", temp_dir)
        for key, value in (conf or {}).items():
            builder = builder.config(key, value)
        try:
            self.session = builder.getOrCreate()
        except Exception as error:  # the JVM failed to start, a bad master URL
            raise EngineError(f"spark: cannot start a session at {master}: "
                              f"{str(error).splitlines()[0]}") from None
        self._frames: dict[str, list] = {}  # daily table -> its cached parts

    def lake(self, files: dict[str, list[str]]) -> None:
        for table in LAKE_TABLES:
            paths = files[table.name]
            schema = _schema((*table.columns, (PARTITION, "date")))
            if paths:
                bases = {hive_base(p) for p in paths}
                if len(bases) > 1:
                    raise EngineError(f"{table.name}: files from more than one lake: "
                                      f"{', '.join(sorted(bases))}")
                frame = (self.session.read.schema(schema).option("basePath", bases.pop())
                         .parquet(*paths))
            else:
                frame = self.session.createDataFrame([], schema)
            frame.createOrReplaceTempView(table.name)

    def small(self, name: str, columns: tuple[str, ...], rows: list[tuple], kind: str) -> None:
        self.session.createDataFrame(
            rows, _schema([(c, STRING if kind == "string" else "date") for c in columns])
        ).createOrReplaceTempView(name)

    def append(self, table: str, sql: str) -> None:
        try:
            # Cached and counted now: the lake's views are redefined before the next use.
            frame = self.session.sql(to_spark(sql)).persist()
            frame.count()
        except Exception as error:
            raise EngineError(f"spark: {str(error).splitlines()[0]}") from None
        frames = self._frames.setdefault(table, [])
        frames.append(frame)
        functools.reduce(lambda a, b: a.unionByName(b), frames).createOrReplaceTempView(table)

    def drop(self, tables: tuple[str, ...]) -> None:
        for table in tables:
            for frame in self._frames.pop(table, []):
                frame.unpersist()
            self.session.catalog.dropTempView(table)

    def rows(self, sql: str) -> list[tuple]:
        try:
            return [tuple(row) for row in self.session.sql(to_spark(sql)).collect()]
        except Exception as error:
            raise EngineError(f"spark: {str(error).splitlines()[0]}") from None

    def close(self) -> None:
        self.session.stop()
