"""Run a simulated population against a running server: history, then today over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from .plan import plan
from .population import Installation, generate
from ..progress import Progress


@dataclass
class Result:
    population: list[Installation]
    history_pings: int
    today_runs: int
    failed_runs: int
    errors: list[str]  # what the first failed runs printed


def simulate(endpoint: str, *, size: int = 200, days: int = 30, seed: int = 1,
             data_dir: str | None = None, database: str | None = None,
             private_database: str | None = None, homes: str | None = None,
             parallel: int = 4, progress: bool = True, history: bool = True,
             today: bool = True) -> Result:
    """`size` installations over `days` days (today included) sending to `endpoint`.

    Days before today need the server's stores (data_dir, or the two URLs); with
    days=1 only today's traffic is sent, over HTTP.  history=False or today=False
    leaves that part out (`make demo` serves the released history before today's runs).
    """
    population = generate(size, days, seed)
    sent = 0
    if history and (data_dir is not None or database is not None):
        from datetime import datetime, timedelta, timezone

        from .history import register_projects

        since = datetime.now(timezone.utc) - timedelta(days=days - 1)
        register_projects(data_dir or ".", database, private_database, since)
    if history and days > 1:
        if data_dir is None and database is None:
            raise ValueError("a history of several days needs the server's stores (data_dir)")
        from .history import write_history

        bar = Progress("history (store)", days - 1, enabled=progress)
        sent = write_history(population, days, seed, data_dir or ".", database, private_database,
                                progress=bar)
        bar.close()
    if not today:
        return Result(population, sent, 0, 0, [])
    today = [(i, p) for i in population if (p := plan(i, 0, seed)) is not None]
    homes = homes or tempfile.mkdtemp(prefix="sempervirens-simulate-")
    bar = Progress("today (client, HTTP)", len(today), enabled=progress)
    errors: list[str] = []

    def run_one(item) -> bool:
        installation, day_plan = item
        spec = {"home": os.path.join(homes, f"installation-{installation.index}"),
                "endpoint": endpoint, "ip": installation.ip, "client_id": installation.client_id,
                "environment": installation.environment,
                "crash_permission": installation.crash_permission,
                "opt_out": day_plan.opt_out, "runs": [asdict(r) for r in day_plan.runs]}
        done = subprocess.run([sys.executable, "-m", "sempervirens.simulate._client"],
                              input=json.dumps(spec).encode(), capture_output=True, timeout=60,
                              env=_client_env())
        bar()
        unsent = _unsent(spec["home"])
        if done.returncode != 0 or unsent:
            errors.append(done.stderr.decode(errors="replace")[-2000:] or f"unsent: {unsent}")
            return False
        return True

    with ThreadPoolExecutor(parallel) as pool:
        ok = list(pool.map(run_one, today))
    bar.close()
    return Result(population, sent, len(today), ok.count(False), errors[:3])


def _unsent(home: str) -> list[str]:
    """Pings still in an installation's spool after its run: the server did not take them."""
    try:
        return [n for n in os.listdir(os.path.join(home, "spool")) if n.endswith(".ping")]
    except FileNotFoundError:
        return []


def _client_env() -> dict:
    # The simulated installations obey only their own consent files.
    return {k: v for k, v in os.environ.items()
            if not k.startswith("SEMPERVIRENS_") and k != "DO_NOT_TRACK"}
