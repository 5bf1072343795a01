"""A throwaway PostgreSQL cluster on a loopback port, started by the test session.

It runs from Debian's packages (installed by `make test`); as root, the server runs
as the `postgres` user, which PostgreSQL insists on.  For tests its flushes are off:
they kill our server, never this one.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from dataclasses import dataclass

from .ports import free_port


def _bin(name: str) -> str:
    for candidate in [shutil.which(name), *sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)]:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(f"{name} not found: install PostgreSQL (make test does: apt-get install postgresql)")


def _run(args: list[str], as_postgres: bool) -> None:
    if as_postgres:
        args = ["runuser", "-u", "postgres", "--", *args]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@dataclass
class PostgresCluster:
    port: int
    directory: str
    as_postgres: bool
    options: str = ""  # pg_ctl -o, to start it again after stop_server()

    def url(self, database: str) -> str:
        return f"postgresql://sempervirens@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    # Faults, for the tests that need them (tests/server/test_store_faults.py).
    def stop_server(self) -> None:
        """`pg_ctl stop` (fast: clients are disconnected), keeping the data to start again."""
        _run([_bin("pg_ctl"), "-D", f"{self.directory}/data", "-m", "fast", "-w", "stop"], self.as_postgres)

    def start_server(self) -> None:
        _run([_bin("pg_ctl"), "-D", f"{self.directory}/data", "-o", self.options, "-l", f"{self.directory}/log",
              "-w", "start"], self.as_postgres)

    def processes(self) -> list[int]:
        """The postmaster and its children (backends, checkpointer, ...)."""
        with open(f"{self.directory}/data/postmaster.pid") as file:
            postmaster = int(file.readline())
        children = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as file:
                        fields = file.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == postmaster:
                    children.append(int(entry))
        return [postmaster, *children]

    def freeze(self) -> None:
        """SIGSTOP every process of the cluster: connections stay open, nothing answers."""
        for pid in self.processes():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.processes():
            os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        _run([_bin("pg_ctl"), "-D", f"{self.directory}/data", "-m", "immediate", "stop"], self.as_postgres)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_cluster(*, durable: bool = False, settings: dict[str, str] | None = None) -> PostgresCluster:
    """Tests run with PostgreSQL's flushes off; a benchmark of durable pings keeps them on.

    settings: more server settings (name -> value), e.g. a benchmark's shared_buffers.
    """
    as_postgres = os.geteuid() == 0
    directory = tempfile.mkdtemp(prefix="sempervirens-pg-")
    if as_postgres:
        shutil.chown(directory, "postgres", "postgres")
    port = free_port()
    _run([_bin("initdb"), "-D", f"{directory}/data", "-U", "sempervirens", "--auth=trust",
          "-E", "UTF8", "--no-sync"], as_postgres)
    flushes = "on" if durable else "off"
    options = (f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync={flushes} "
               f"-c synchronous_commit={flushes} -c full_page_writes={flushes} -c max_connections=200")
    options += "".join(f" -c {name}={value}" for name, value in (settings or {}).items())
    _run([_bin("pg_ctl"), "-D", f"{directory}/data", "-o", options, "-l", f"{directory}/log",
          "-w", "start"], as_postgres)
    return PostgresCluster(port, directory, as_postgres, options)
