"""A throwaway Spark standalone cluster on loopback: a Master and Workers, started from
the pyspark installation's own jars (`java -cp <pyspark>/jars/*`), stopped by the test.

Each process is started in a process group of its own and stopped by its id, its
executors with it (a worker kills its executors when it stops; kill_worker() kills
it outright, as a machine lost would, and its executors after it).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

from .ports import free_port


def pyspark_home() -> str:
    import pyspark

    return os.path.dirname(pyspark.__file__)


def _java(main: str, args: list[str], log: str, env: dict[str, str],
          user: str | None = None) -> subprocess.Popen:
    home = pyspark_home()
    command = [*(["runuser", "-u", user, "--"] if user else []), "java", "-Xmx256m",
               "-cp", f"{home}/conf:{home}/jars/*", main, *args]
    with open(log, "ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)


def _wait_port(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


def _wait_log(path: str, pattern: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with open(path, errors="replace") as f:
            if re.search(pattern, f.read()):
                return
        time.sleep(0.2)
    raise RuntimeError(f"{pattern!r} not in {path} after {seconds} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(20)


@dataclass
class SparkCluster:
    directory: str
    port: int
    master: subprocess.Popen | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ, SPARK_HOME=pyspark_home(), SPARK_LOG_DIR=self.directory,
                   SPARK_LOCAL_IP="127.0.0.1", SPARK_SCALA_VERSION="2.13")
        env.pop("PYSPARK_PYTHON", None)
        return env

    def start_master(self) -> None:
        log = f"{self.directory}/master.log"
        self.master = _java("org.apache.spark.deploy.master.Master",
                            ["--host", "127.0.0.1", "--port", str(self.port), "--webui-port", "0"],
                            log, self._env())
        _wait_port(self.port)

    def stop_master(self) -> None:
        if self.master is not None:
            _stop(self.master)
            self.master = None

    def start_worker(self, cores: int = 1, memory: str = "1g", env: dict | None = None,
                     user: str | None = None) -> int:
        """A worker; `user`: run it as that user (as root only), e.g. one that cannot
        read what the driver reads, as a machine without the driver's files."""
        n = len(self.workers)
        log = f"{self.directory}/worker-{n}.log"
        work = f"{self.directory}/work-{n}"
        local = f"{self.directory}/local-{n}"
        os.makedirs(local, exist_ok=True)
        os.makedirs(work, exist_ok=True)
        open(log, "a").close()
        if user:
            import shutil
            for path in (self.directory, work, local, log):
                shutil.chown(path, user)
        self.workers.append(_java(
            "org.apache.spark.deploy.worker.Worker",
            [self.url, "--host", "127.0.0.1", "--cores", str(cores), "--memory", memory,
             "--webui-port", "0", "--work-dir", work],
            log, {**self._env(), "SPARK_LOCAL_DIRS": local, **(env or {})}, user))
        _wait_log(log, r"Successfully registered with master")
        return n

    def kill_worker(self, n: int) -> None:
        """SIGKILL a worker and its executors: a machine lost."""
        process = self.workers[n]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(20)
        # Executors were started by the worker in their own process group? They are in
        # the worker's session; kill whatever is left of it.
        _kill_session(process.pid)

    def stop(self) -> None:
        for process in self.workers:
            _stop(process)
            _kill_session(process.pid)
        self.workers.clear()
        self.stop_master()


def _kill_session(sid: int) -> None:
    """SIGKILL every process of session `sid` (the worker's executors)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.getsid(int(pid)) == sid:
                os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue


def start_spark_cluster(workers: int = 1, cores: int = 1, memory: str = "1g") -> SparkCluster:
    cluster = SparkCluster(tempfile.mkdtemp(prefix="spark-cluster-"), free_port())
    try:
        cluster.start_master()
        for _ in range(workers):
            cluster.start_worker(cores, memory)
    except BaseException:
        cluster.stop()
        raise
    return cluster
