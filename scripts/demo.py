#!/usr/bin/env python3
"""`make demo`: the whole system on one machine, in one command.

Starts a loopback DNS server for the simulated institutions, the collection
server on the embedded SQLite store (trusting 127.0.0.1 as a proxy, so each
simulated installation's address is believed), sends a simulated population
(earlier days through the store), runs the aggregation and the dataset release,
prints the URL, then sends today's usage through the real client over HTTP (today
is not a complete day, so nothing of it is published: the pages do not wait for it)
and serves until Ctrl-C (or exits once today's runs are sent, with --exit).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT / "sempervirens-data" / "demo"),
                        help="demo stores (wiped at start) [default: sempervirens-data/demo]")
    parser.add_argument("--port", type=int, default=8000, help="preferred port [default: 8000]")
    parser.add_argument("--size", type=int, default=400, help="simulated installations")
    parser.add_argument("--days", type=int, default=21, help="days of history, today included (three weeks: two or more complete)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--exit", action="store_true", help="stop after printing the URL")
    args = parser.parse_args()
    started = time.monotonic()

    from sempervirens.cli import build_parser
    from sempervirens.simulate.dns import LoopbackDNS
    from sempervirens.simulate.population import addresses, generate
    from sempervirens.simulate.run import simulate
    from sempervirens.store import open_stores

    commands = _commands(build_parser())
    data_dir = Path(args.data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)  # the demo starts from nothing each time
    data_dir.mkdir(parents=True)
    dns = LoopbackDNS(addresses(generate(args.size, args.days, args.seed)))
    port = args.port if _port_free(args.port) else _free_port()
    url = f"http://127.0.0.1:{port}"
    serve = [sys.executable, "-m", "sempervirens", "serve", "--port", str(port),
             "--data-dir", str(data_dir), "--trusted-proxies", "127.0.0.1"]
    if "--dns-server" in commands.get("serve", ""):
        serve += ["--dns-server", dns.nameserver]
    # The stores are created here, so that the history is written while the server starts.
    open_stores(str(data_dir), None, None, migrate=True).dispose()
    log = open(data_dir / "server.log", "ab")
    server = subprocess.Popen(serve, stdout=log, stderr=subprocess.STDOUT, env=_env())
    try:
        population = dict(size=args.size, days=args.days, seed=args.seed, data_dir=str(data_dir),
                          homes=str(data_dir / "installations"))
        result = simulate(url, **population, today=False)
        print(f"simulated {len(result.population)} installations: {result.history_pings} pings "
              f"of earlier days  [{time.monotonic() - started:.1f} s]")
        _wait_healthy(url, server)
        print(f"server up at {url} (log: {data_dir / 'server.log'}), DNS on {dns.nameserver}")
        # One cycle seals, releases (datasets included) and aggregates privately.
        for command in ("aggregate",):
            if command not in commands:
                print(f"(no `sempervirens {command}` in this version yet: skipped)")
                continue
            extra = ["--dns-server", dns.nameserver] if "--dns-server" in commands[command] else []
            if "--anomaly-min-clients" in commands[command]:
                # The demo's crowded address shows about ten installations of one project
                # a day, not 100,000: a demo-sized threshold lets the anomaly be seen.
                extra += ["--anomaly-min-clients", "8"]
            subprocess.run([sys.executable, "-m", "sempervirens", command, "--data-dir",
                            str(data_dir), *extra], check=True, env=_env())
        print(f"\nSempervirens demo: open {url}/  (privacy: {url}/privacy, "
              f"datasets: {url}/datasets, API: {url}/api/v1/projects)"
              f"  [{time.monotonic() - started:.1f} s]\n", flush=True)
        result = simulate(url, **population, history=False)
        print(f"today: {result.today_runs} client runs through the real client over HTTP "
              f"({result.failed_runs} failed), published once the day is complete and released")
        if args.exit:
            return 0
        print("Serving until Ctrl-C.")
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while server.poll() is None:
            time.sleep(0.5)
        print(f"server exited with {server.returncode}; see {data_dir / 'server.log'}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
        dns.close()


def _commands(parser) -> dict[str, str]:
    """Each subcommand and its --help text (to pass only the flags it knows)."""
    for action in parser._subparsers._group_actions:
        return {name: sub.format_help() for name, sub in action.choices.items()}
    return {}


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("SEMPERVIRENS_")}


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}: see its log")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not become healthy")


if __name__ == "__main__":
    sys.exit(main())
