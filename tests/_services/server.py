"""A real `sempervirens serve` in a subprocess on a loopback port."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .ports import free_port


@dataclass
class RunningServer:
    url: str
    data_dir: Path
    process: subprocess.Popen
    args: list[str] = field(default_factory=list)
    log_path: Path | None = None

    def stop(self) -> None:
        """SIGTERM, as an init system would: the server commits what it accepted."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL: no chance to clean up."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def option(self, flag: str) -> str | None:
        """The value this server was started with for a command-line flag."""
        return self.args[self.args.index(flag) + 1] if flag in self.args else None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    # Reading the stores the way an operator would, from the files.
    def query(self, store: str, sql: str, params: tuple = ()) -> list[dict]:
        path = self.data_dir / f"{store}.db"
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            connection.row_factory = sqlite3.Row
            return [dict(row) for row in connection.execute(sql, params)]

    def pings(self) -> list[dict]:
        return self.query("telemetry", "SELECT * FROM pings ORDER BY received_at")

    def access_log(self) -> list[dict]:
        return self.query("private", "SELECT * FROM access_log ORDER BY id")


def start_server(data_dir: Path, *, tls_cert: str | None = None, tls_key: str | None = None,
                 extra_args: tuple[str, ...] = (), env: dict | None = None,
                 host: str = "127.0.0.1", timeout: float = 20.0,
                 url_host: str | None = None) -> RunningServer:
    """`url_host`: where to reach it when `host` is a wildcard ('::': dual-stack with workers)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [sys.executable, "-m", "sempervirens", "serve", "--host", host, "--port", str(port),
            "--data-dir", str(data_dir), *extra_args]
    if tls_cert:
        args += ["--tls-cert", tls_cert, "--tls-key", tls_key]
    log_path = data_dir / "server.log"
    process_env = {k: v for k, v in os.environ.items() if not k.startswith("SEMPERVIRENS_")}
    process_env.update(env or {})
    with open(log_path, "ab") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=process_env)
    scheme = "https" if tls_cert else "http"
    server = RunningServer(f"{scheme}://{url_host or host}:{port}", data_dir, process, args,
                           log_path)
    _wait_healthy(server, timeout)
    return server


def _wait_healthy(server: RunningServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.log()}")
        try:
            # Readiness only: certificate checks are what the TLS tests are about.
            if httpx.get(server.url + "/healthz", verify=False, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    server.kill()
    raise RuntimeError(f"server not healthy within {timeout}s:\n{server.log()}")
