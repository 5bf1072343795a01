"""Benchmark of the embedded client against the tools it is compared with.

`make bench-client` runs it in the benchmark environment (bench/requirements.txt:
posthog, sentry-sdk, glean-sdk).  In one run it measures:

1. cost per recording call: a lock-protected dict increment (the floor), then
   sempervirens `count`, labeled `count`, `timer`, `track`; posthog `capture`,
   glean counter `add`, sentry `capture_message`, each recording the same event;
2. import time of sempervirens (and with a Telemetry created), posthog, sentry_sdk, glean;
3. interpreter exit delay when the collection server accepts connections and never
   answers (a blackhole on loopback), and whether a process is left behind.

Each measurement runs in a fresh interpreter; tools missing from the environment
are reported as such.  The figures go into docs/performance.md ("Client").
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GLEAN_DIR = HERE / "client_glean"  # metrics.yaml and pings.yaml of the glean comparison

# -- 1. cost per call ---------------------------------------------------------------

CALL_SETUP = {
    "lock-protected dict increment (floor)": """
        import threading
        lock = threading.Lock(); d = {}
        def op():
            with lock:
                d["io.read_csv"] = d.get("io.read_csv", 0) + 1
    """,
    "sempervirens count": """
        import sempervirens
        t = sempervirens.Telemetry("bench", version="1.0", endpoint=BLACKHOLE)
        t.opt_in(); t.count("warm"); import time; time.sleep(1.0)  # the uploader has settled
        op = lambda: t.count("io.read_csv")
    """,
    "sempervirens count, labeled": """
        import sempervirens
        t = sempervirens.Telemetry("bench", version="1.0", endpoint=BLACKHOLE)
        t.opt_in(); t.count("warm"); import time; time.sleep(1.0)  # the uploader has settled
        op = lambda: t.count("io.read", label="csv")
    """,
    "sempervirens timer (empty block)": """
        import sempervirens
        t = sempervirens.Telemetry("bench", version="1.0", endpoint=BLACKHOLE)
        t.opt_in(); t.count("warm"); import time; time.sleep(1.0)  # the uploader has settled
        def op():
            with t.timer("solve"):
                pass
    """,
    "sempervirens track (call of a tracked no-op)": """
        import sempervirens
        t = sempervirens.Telemetry("bench", version="1.0", endpoint=BLACKHOLE)
        t.opt_in(); t.count("warm"); import time; time.sleep(1.0)  # the uploader has settled
        @t.track
        def op():
            pass
    """,
    "plain call of a no-op (for track)": """
        def op():
            pass
    """,
    "sempervirens count, user opted out": """
        import os
        os.environ["DO_NOT_TRACK"] = "1"
        import sempervirens
        t = sempervirens.Telemetry("bench", version="1.0", endpoint=BLACKHOLE)
        op = lambda: t.count("io.read_csv")
    """,
    "posthog capture": """
        import posthog
        client = posthog.Posthog("phc_benchmark", host=BLACKHOLE, max_queue_size=10**7)
        op = lambda: client.capture("io.read_csv", distinct_id="bench-user")
    """,
    "glean counter add": """
        import tempfile
        from pathlib import Path
        from glean import Glean, Configuration, load_metrics
        metrics = load_metrics(str(GLEAN_DIR / "metrics.yaml"))
        Glean.initialize(application_id="bench", application_version="1", upload_enabled=True,
                         data_dir=Path(tempfile.mkdtemp()),
                         configuration=Configuration(server_endpoint=BLACKHOLE))
        counter = metrics.bench.event_count
        op = counter.add
    """,
    "sentry capture_message": """
        import sentry_sdk
        sentry_sdk.init(dsn=BLACKHOLE.replace("http://", "http://public@") + "/1", default_integrations=False)
        op = lambda: sentry_sdk.capture_message("io.read_csv")
    """,
}

CALL_RUNNER = """
import timeit, json
number = NUMBER
best = min(timeit.repeat(op, number=number, repeat=5)) / number
print(json.dumps(best))
import os
os._exit(0)  # the cost per call only: do not wait for any tool's exit
"""


def cost_per_call(name: str, setup: str, blackhole: str, env: dict, number: int) -> float | None:
    code = (
        f"BLACKHOLE = {blackhole!r}\nfrom pathlib import Path\nGLEAN_DIR = Path({str(GLEAN_DIR)!r})\n"
        + textwrap.dedent(setup)
        + CALL_RUNNER.replace("NUMBER", str(number))
    )
    out = subprocess.run(  # noqa: PLW1510 - the caller checks
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    if out.returncode != 0:
        print(f"  {name}: failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- 2. import time -----------------------------------------------------------------

IMPORTS = {
    "sempervirens": "import sempervirens",
    "sempervirens + Telemetry(...)": "import sempervirens; sempervirens.Telemetry('bench', version='1.0')",
    "posthog": "import posthog",
    "sentry_sdk": "import sentry_sdk",
    "glean": "import glean",
}


def import_time(statement: str, env: dict, runs: int) -> float | None:
    code = f"import time\nt = time.perf_counter()\n{statement}\nprint(time.perf_counter() - t)"
    samples = []
    for i in range(runs + 1):
        out = subprocess.run(  # noqa: PLW1510 - the caller checks
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
        )
        if out.returncode != 0:
            return None
        if i:  # the first run writes the bytecode caches, as a user's first import would
            samples.append(float(out.stdout))
    return statistics.median(samples)


# -- 3. exit delay against a blackhole ---------------------------------------------

EXITS = {
    "no telemetry (baseline)": "",
    "sempervirens": """
        import sempervirens
        t = sempervirens.Telemetry("bench", version="1.0", endpoint=BLACKHOLE)
        t.count("io.read_csv")
    """,
    "posthog": """
        import posthog
        client = posthog.Posthog("phc_benchmark", host=BLACKHOLE)
        client.capture("io.read_csv", distinct_id="bench-user")
    """,
    "sentry_sdk": """
        import sentry_sdk
        sentry_sdk.init(dsn=BLACKHOLE.replace("http://", "http://public@") + "/1")
        sentry_sdk.capture_message("io.read_csv")
    """,
    "glean": """
        import tempfile
        from pathlib import Path
        from glean import Glean, Configuration, load_metrics, load_pings
        metrics = load_metrics(str(GLEAN_DIR / "metrics.yaml"))
        pings = load_pings(str(GLEAN_DIR / "pings.yaml"))
        Glean.initialize(application_id="bench", application_version="1", upload_enabled=True,
                         data_dir=Path(tempfile.mkdtemp()),
                         configuration=Configuration(server_endpoint=BLACKHOLE))
        metrics.bench.event_count.add()
        pings.bench.submit()
    """,
}

EXIT_TAIL = """
import sys, time
sys.stdout.write(repr(time.time()) + "\\n")  # the host's last statement ends here
sys.stdout.flush()
"""


def _become_subreaper() -> bool:
    """Orphans of the host (an uploader process) become our children, so we can see them."""
    try:
        return (
            ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
        )  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _our_children() -> set[int]:
    me, found = str(os.getpid()), set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[1] == me:
                found.add(int(entry))
    return found


def exit_delay(
    code: str, blackhole: str, env: dict, runs: int, max_linger: float
) -> tuple[float, float]:
    """(median seconds from the host's last statement to its exit, longest a leftover process lived)."""
    script = (
        f"BLACKHOLE = {blackhole!r}\nfrom pathlib import Path\nGLEAN_DIR = Path({str(GLEAN_DIR)!r})\n"
        + textwrap.dedent(code)
        + EXIT_TAIL
    )
    delays, linger = [], 0.0
    for _ in range(runs):
        before = _our_children()
        process = subprocess.Popen(
            [sys.executable, "-c", script],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        stdout, _ = process.communicate(timeout=120)
        exited = time.time()
        delays.append(exited - float(stdout.strip().splitlines()[-1]))
        left = _our_children() - before - {process.pid}
        start = time.monotonic()
        while left and time.monotonic() - start < max_linger:
            for pid in list(left):
                try:
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        left.discard(pid)
                except ChildProcessError:
                    left.discard(pid)
            time.sleep(0.05)
        linger = max(linger, time.monotonic() - start if left or linger else 0.0)
        for pid in left:  # still there after max_linger: end it, it is ours now
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            linger = max_linger
    return statistics.median(delays), linger


def _blackhole() -> tuple[socket.socket, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)  # accepted by the kernel, never read, never answered
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (a smoke test)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    number, import_runs, exit_runs = (20_000, 5, 2) if args.quick else (200_000, 15, 5)

    sock, blackhole = _blackhole()
    subreaper = _become_subreaper()
    home = tempfile.mkdtemp(prefix="sempervirens-bench-")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SEMPERVIRENS_")
        and k not in ("DO_NOT_TRACK", "PYTHONDONTWRITEBYTECODE")
    }
    env["SEMPERVIRENS_HOME"] = home
    results: dict = {"calls_us": {}, "imports_ms": {}, "exit": {}}

    print(
        f"Python {sys.version.split()[0]} on {os.uname().sysname} {os.uname().machine}, "
        f"{os.cpu_count()} CPUs; blackhole at {blackhole}\n"
    )
    print("| recording call | µs per call |\n| --- | ---: |")
    for name, setup in CALL_SETUP.items():
        n = number if "posthog" not in name and "sentry" not in name else number // 20
        cost = cost_per_call(name, setup, blackhole, env, n)
        results["calls_us"][name] = None if cost is None else cost * 1e6
        print(f"| {name} | {'n/a' if cost is None else f'{cost * 1e6:.3f}'} |", flush=True)
    floor = results["calls_us"]["lock-protected dict increment (floor)"]
    count = results["calls_us"]["sempervirens count"]
    if floor and count:
        print(f"\n`count` is {count / floor:.2f}x the floor (target: within 3x and under 1 µs)")

    print("\n| import | ms (median) |\n| --- | ---: |")
    for name, statement in IMPORTS.items():
        t = import_time(statement, env, import_runs)
        results["imports_ms"][name] = None if t is None else t * 1e3
        print(f"| {name} | {'n/a' if t is None else f'{t * 1e3:.1f}'} |", flush=True)

    print("\n| exit with the server blackholed | exit delay ms (median) | process left behind |")
    print("| --- | ---: | --- |")
    for name, code in EXITS.items():
        try:
            delay, linger = exit_delay(code, blackhole, env, exit_runs, max_linger=40.0)
        except (subprocess.SubprocessError, ValueError, IndexError) as error:
            print(f"| {name} | n/a ({type(error).__name__}) | |")
            continue
        left = "no" if not linger else f"yes, for {linger:.1f} s"
        if not subreaper:
            left = "not measured (no subreaper)"
        results["exit"][name] = {"delay_ms": delay * 1e3, "linger_s": linger}
        print(f"| {name} | {delay * 1e3:.0f} | {left} |", flush=True)

    sock.close()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
