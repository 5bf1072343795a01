"""make bench-ingest: durable pings/s and latency of ingestion, against the ceiling.

In one run, from a separate load generator (wrk) on loopback, with ~700-byte pings
(bench/ping.lua, as the client sends them, environment tags included):
  (a) the same server and framework answering 204 after parsing, storing nothing;
  (b) Sempervirens on SQLite (synchronous=FULL); (c) Sempervirens on PostgreSQL (a
  throwaway cluster with fsync and synchronous_commit on);
and the ratios b/a and c/a.  "Durable" counts the rows found in the store afterwards.
Then (d), under attack: Sempervirens on SQLite with short header, body and keep-alive
timeouts serves a legitimate load (wrk, 8 connections) while each attack of
tests/_services/attacks.py runs beside it: the legitimate pings' p99 (target <= 1 s)
and the server's peak RSS over its idle RSS (target <= 2).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from _services.attacks import ATTACKS, LIMIT_ARGS, peak_rss, rss_kib  # noqa: E402
from _services.ports import free_port  # noqa: E402
from _services.postgres import start_cluster  # noqa: E402

from sempervirens.store import create_store_engine  # noqa: E402


def wait_ready(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def run_wrk(url: str, seconds: int, connections: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(ROOT / "bench" / "ping.lua"), url],
        check=True, capture_output=True, text=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)

    def latency(pct: str) -> str:
        return re.search(rf"\s{pct}%\s+(\S+)", out).group(1)
    return {"requests": requests, "ok": requests - (int(non_2xx.group(1)) if non_2xx else 0),
            "p50": latency("50"), "p99": latency("99"), "errors": errors.group(1) if errors else ""}


def stored(url: str) -> int:
    engine = create_store_engine(url)
    with engine.connect() as connection:
        count = connection.exec_driver_sql("SELECT count(*) FROM pings").scalar()
    engine.dispose()
    return count


def measure(name: str, command: list[str], port: int, seconds: int, connections: int,
            telemetry_url: str | None) -> dict:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT / "bench")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/healthz")
        run_wrk(base, 2, connections)  # warm up
        before = stored(telemetry_url) if telemetry_url else 0
        result = run_wrk(base, seconds, connections)
    finally:
        process.terminate()
        process.wait(timeout=30)
    durable = (stored(telemetry_url) - before) if telemetry_url else result["ok"]
    result.update(name=name, durable=durable, per_second=durable / seconds)
    return result


def under_attack(data: str, seconds: int) -> None:
    """(d): each attack beside a legitimate load on one server; p99 and peak RSS / idle."""
    cap, port = 100, free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sempervirens", "serve", "--port", str(port), "--data-dir",
         f"{data}/attacked", "--log-level", "error", *LIMIT_ARGS, "--max-connections", str(cap)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT / "bench")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + "/healthz")
        run_wrk(base, 2, 8)  # warm up
        idle = rss_kib(process.pid)
        print(f"\n(d) under attack: legitimate load wrk -c8 for {seconds} s beside each attack; "
              f"idle RSS {idle / 1024:.0f} MB; max_connections {cap}")
        for name, attack in ATTACKS.items():
            legitimate: dict = {}
            load = threading.Thread(target=lambda: legitimate.update(run_wrk(base, seconds, 8)))
            with peak_rss(process.pid) as samples:
                load.start()
                time.sleep(0.5)  # the legitimate connections are open first
                got = attack(("127.0.0.1", port), cap)
                load.join()
            answered = {str(code): got.count(code) for code in sorted(set(got), key=str)}
            print(f"  {name:44s} legitimate: {legitimate['requests']:6d} requests, "
                  f"{legitimate['requests'] - legitimate['ok']} not 2xx, p99 {legitimate['p99']:>8s} "
                  f"(target <= 1 s); peak RSS {max(samples) / idle:.2f}x idle (target <= 2); "
                  f"attacker got {answered}", flush=True)
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of a, b, c in turn; each ratio is taken within a round, "
                             "and the medians are reported (a shared machine drifts between runs)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--only", action="append", choices=("a", "b", "c", "d"),
                        help="run only this case (repeatable; the ratios need (a))")
    args = parser.parse_args()
    cases = sorted(set(args.only or "abcd"))
    print(f"load average at the start: {os.getloadavg()[0]:.1f} (nproc {os.cpu_count()})")
    python = sys.executable
    rounds: list[dict] = []
    with tempfile.TemporaryDirectory() as data:
        cluster = start_cluster(durable=True) if "c" in cases else None
        try:
            for number in range(args.rounds):
                results = {}
                for case in (c for c in cases if c != "d"):
                    port = free_port()
                    if case == "a":
                        results["a"] = measure(
                            "(a) ceiling: Starlette on uvicorn, parse + 204", [
                                python, "-m", "uvicorn", "baseline_app:app", "--port", str(port),
                                "--no-access-log", "--log-level", "warning", "--loop", "uvloop",
                                "--http", "httptools"],
                            port, args.seconds, args.connections, None)
                    elif case == "b":
                        results["b"] = measure(
                            "(b) Sempervirens, SQLite", [
                                python, "-m", "sempervirens", "serve", "--port", str(port),
                                "--data-dir", f"{data}/sqlite{number}", "--log-level", "warning"],
                            port, args.seconds, args.connections, f"sqlite:///{data}/sqlite{number}/telemetry.db")
                    else:
                        telemetry = cluster.create_database("telemetry")
                        private = cluster.create_database("private")
                        results["c"] = measure(
                            "(c) Sempervirens, PostgreSQL", [
                                python, "-m", "sempervirens", "serve", "--port", str(port),
                                "--data-dir", f"{data}/pg{number}", "--database", telemetry,
                                "--private-database", private, "--log-level", "warning"],
                            port, args.seconds, args.connections, telemetry)
                if results:
                    rounds.append(results)
                    _print_round(number + 1, results)
            if "d" in cases:
                under_attack(data, args.seconds)
        finally:
            if cluster is not None:
                cluster.stop()

    if not rounds:
        return  # (d) only
    print(f"\n{args.rounds} rounds, {args.seconds} s per run, {args.connections} connections, "
          f"wrk -t1 on loopback, ~700-byte pings; load average now {os.getloadavg()[0]:.1f}")
    for case, target in (("b", 0.65), ("c", 0.40)):
        if "a" in cases and case in cases:
            ratios = sorted(r[case]["per_second"] / r["a"]["per_second"] for r in rounds)
            print(f"{case}/a: median {statistics.median(ratios):.2f} (target >= {target}); "
                  f"rounds: {', '.join(f'{x:.2f}' for x in ratios)}")


def _print_round(number: int, results: dict) -> None:
    print(f"\nround {number}\n")
    print("| server | durable pings/s | p50 | p99 | non-2xx |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in results.values():
        print(f"| {r['name']} | {r['per_second']:,.0f} | {r['p50']} | {r['p99']} | {r['requests'] - r['ok']} |")


if __name__ == "__main__":
    main()
