"""The engine on a real Spark standalone cluster (a Master and a Worker on loopback,
from the pyspark installation's jars), not only local[N]: the same rows as DuckDB, and
its failures as one line each, in bounded time, never a job that waits forever."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import date, timedelta

import pytest

from _services.spark import start_spark_cluster
from engine_helpers import random_declared, random_origins, random_pings, write_lake
from sempervirens.aggregate.engine import EngineError, compute, compute_private, open_runner
from sempervirens.aggregate.engine._spark import SparkRunner
from sempervirens.model.periods import period_start
from sempervirens.model.statistics import Bounds

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
DAYS = [date(2026, 11, 27) + timedelta(days=i) for i in range(8)]
CONF = {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2",
        "spark.executor.memory": "512m", "spark.task.maxFailures": "2",
        "spark.sql.adaptive.enabled": "false"}


@pytest.fixture
def cluster():
    cluster = start_spark_cluster(workers=0)
    yield cluster
    cluster.stop()


def test_a_standalone_cluster_gives_duckdbs_rows(cluster, tmp_path):
    cluster.start_worker()
    source = write_lake(tmp_path, random_pings(seed=29, days=DAYS, clients=40, pings=1500))
    declared, origins = random_declared(), random_origins(seed=31, days=DAYS)
    runner = open_runner("spark", spark_master=cluster.url, spark_conf=CONF)
    try:
        starts = sorted({period_start("week", day) for day in DAYS})
        assert (compute(source, "week", starts, declared, Bounds(), engine=runner)
                == compute(source, "week", starts, declared, Bounds()))
        assert (compute_private(origins, "week", starts, engine=runner)
                == compute_private(origins, "week", starts))
    finally:
        runner.close()


def test_a_master_without_workers_fails_in_bounded_time(cluster, tmp_path):
    source = write_lake(tmp_path, random_pings(seed=1, days=DAYS[:1], clients=5, pings=20))
    runner = SparkRunner(cluster.url, conf=CONF, no_executor_timeout=15)
    try:
        started = time.monotonic()
        with pytest.raises(EngineError, match="no executor for 15 s and was cancelled"):
            compute(source, "day", DAYS[:1], random_declared(), engine=runner)
        assert time.monotonic() - started < 60
    finally:
        runner.close()


def test_the_only_worker_lost_mid_job_fails_in_bounded_time(cluster, tmp_path):
    cluster.start_worker()
    source = write_lake(tmp_path, random_pings(seed=1, days=DAYS, clients=20, pings=400))
    runner = SparkRunner(cluster.url, conf=CONF, no_executor_timeout=15)
    killer = threading.Timer(15, cluster.kill_worker, (0,))
    try:
        killer.start()
        with pytest.raises(EngineError, match="no executor for 15 s"):
            for _ in range(20):  # longer than the timer, whatever the machine's speed
                compute(source, "day", DAYS, random_declared(), engine=runner)
    finally:
        killer.cancel()
        runner.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="runs a worker as nobody")
def test_a_lake_the_executors_cannot_read_is_named(cluster, tmp_path):
    cluster.start_worker(user="nobody")  # tmp_path is root's, 0700: a worker without the lake
    source = write_lake(tmp_path, random_pings(seed=1, days=DAYS[:1], clients=5, pings=20))
    runner = open_runner("spark", spark_master=cluster.url, spark_conf=CONF)
    try:
        with pytest.raises(EngineError, match=r"FILE_NOT_EXIST.*part-0\.parquet"):
            compute(source, "day", DAYS[:1], random_declared(), engine=runner)
    finally:
        runner.close()


def test_driver_java_options_of_the_operator_keep_the_log_configuration(cluster):
    """A JVM of its own (a process that started none): the options apply at its launch."""
    cluster.start_worker()
    conf = {**CONF, "spark.driver.extraJavaOptions": "-Dsun.net.inetaddr.ttl=60"}
    script = ("from sempervirens.aggregate.engine import compute_private, open_runner\n"
              f"r = open_runner('spark', spark_master={cluster.url!r}, spark_conf={conf!r})\n"
              "from datetime import date\n"
              "compute_private([('p', date(2026, 11, 27), 'c', 'academic', 'U', True)], 'day', "
              "[date(2026, 11, 27)], engine=r); r.close()\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines()
            if not line.startswith("WARNING: Using incubator modules")]
    assert said == []
