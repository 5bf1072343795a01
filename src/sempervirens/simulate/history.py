"""Earlier days of the simulated population, written back-dated through the store.

A server stamps every ping with the time it arrives, so a population simulated
today over HTTP has a history of one day.  For the days before, the same pings
(built by the client library's own body builders, validated by the server's own
validator) go through the server's own group-commit writer with the time they
would have arrived.  This is the one shortcut of the simulation, and it is only
for history: today's traffic goes through the real client over HTTP.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import datetime, time, timedelta, timezone
from typing import Callable

from ..client import _environment, _pings, _wire
from ..client._recorder import wire_metrics
from ..protocol import normalize_project, validate_ping
from ..store import Accepted, Writer, open_stores
from .plan import DayPlan, ProjectRun, plan
from .population import Installation

BATCH = 500


def pings_of_day(installation: Installation, day_plan: DayPlan, day: int, seed: int,
                 today: datetime) -> list[Accepted]:
    """The pings an installation's day would have sent, as the server would accept them."""
    rng = random.Random(f"{seed}:{installation.index}:{day}:arrival")
    midnight = datetime.combine(today.date() - timedelta(days=day), time(), timezone.utc)
    arrived = midnight + timedelta(seconds=rng.uniform(60, 86_000))
    _environment._cache = dict(installation.environment)  # the installation's platform
    bodies = []
    for run in day_plan.runs:
        bodies.append((run.project, "usage", _usage_body(installation, run, arrived)))
        if run.crash:
            text = f"Traceback (most recent call last):\n  ...\n{run.crash}: simulated failure\n"
            bodies.append((run.project, "crash",
                           _pings.crash(installation.client_id, run.version, run.crash, text)))
        if day_plan.opt_out:
            bodies.append((run.project, "opt-out", _pings.opt_out(run.version)))
    accepted = []
    for n, (project, ping_type, body) in enumerate(bodies):
        ping = validate_ping(ping_type, body)  # the server's own validation
        document_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        accepted.append(Accepted(document_id, normalize_project(project), ping,
                                 arrived + timedelta(milliseconds=n), installation.ip))
    return accepted


def _usage_body(installation: Installation, run: ProjectRun, arrived: datetime) -> dict:
    counters: dict = dict(run.counters)
    for name, labels in run.labeled.items():
        counters.update({(name, label): n for label, n in labels.items()})
    timings = {}
    for name, durations in run.timings.items():
        buckets: dict = {}
        for duration in durations:
            bucket = _wire.timing_bucket(duration)
            buckets[bucket] = buckets.get(bucket, 0) + 1
        timings[name] = [len(durations), int(sum(durations)), buckets]
    metrics, dropped = wire_metrics(counters, timings, 0)
    end = arrived.timestamp() - 1
    return _pings.usage(installation.client_id, run.version, end - 1800, end, metrics, dropped, {})


def register_projects(data_dir: str, database: str | None, private_database: str | None,
                      since: datetime) -> None:
    """Register every simulated project with its declaration, as from `since` (the first
    day of the history), so that its closed periods are released."""
    from ..admin.projects import add
    from .population import PROJECTS, declaration

    stores = open_stores(data_dir, database, private_database)
    try:
        for project in PROJECTS:
            add(stores, project.name, declaration=declaration(project), registered_at=since)
    finally:
        stores.dispose()


def write_history(population: list[Installation], days: int, seed: int, data_dir: str,
                  database: str | None = None, private_database: str | None = None, *,
                  today: datetime | None = None,
                  progress: Callable[[int], None] = lambda n: None) -> int:
    """Write days 1..days-1 before today; returns the number of pings written."""
    today = today or datetime.now(timezone.utc)
    stores = open_stores(data_dir, database, private_database)
    try:
        return asyncio.run(_write(stores, population, days, seed, today, progress))
    finally:
        stores.dispose()


async def _write(stores, population, days, seed, today, progress) -> int:
    writer = Writer(stores, batch_size=BATCH)
    writer.start()
    written = 0
    try:
        for day in range(days - 1, 0, -1):
            items = []
            for installation in population:
                day_plan = plan(installation, day, seed)
                if day_plan is not None:
                    items += pings_of_day(installation, day_plan, day, seed, today)
            for start in range(0, len(items), BATCH):
                await asyncio.gather(*(writer.submit(item) for item in items[start:start + BATCH]))
            written += len(items)
            progress(1)
    finally:
        await writer.stop()
    return written
