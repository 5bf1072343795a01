"""Worlds for the adversarial suite: a declared project, a population over October 2026,
and a planted rare installation (or not), run through the real cycle (seal into the lake,
DuckDB engine, OpenDP release) on real SQLite stores, then served by a real server.

The attacker sees only what anyone sees: pages, the public API and dataset files, and may
send pings (here: written through the stores as the server's writer would, back-dated to
the closed days they attack) and ask for their own deletion.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from population import Ping, insert
from sqlalchemy import select

from _services.server import RunningServer, start_server
from sempervirens import settings as settings_module
from sempervirens.admin import projects
from sempervirens.cycle.run import run_cycle
from sempervirens.model.declarations import parse
from sempervirens.release.tables import public_statistics
from sempervirens.store import Stores, open_stores

PROJECT = "demo"
SHADOW = "shadow-project"  # never registered: anyone can send pings for it
METRICS = """
versions = ["1.0", "1.1"]
crash_kinds = ["ValueError"]

[metrics."core.fit"]
kind = "counter"
description = "Models fitted."

[metrics."io.format"]
kind = "labeled_counter"
description = "Files read, by format."
labels = ["csv", "parquet"]

[metrics."core.solve"]
kind = "timing"
description = "Time to solve one model."
"""
FIRST_DAY = date(2026, 10, 1)
DAYS = 31  # October: every day, four whole weeks and the month are released
NOW = datetime(2026, 11, 1, 6, tzinfo=timezone.utc)
# What the planted installation alone reports: undeclared names and free text that must
# never be published, and platform values that no one else has.
SECRETS = ("secret.plan", "xlsx", "PrivateError", "7.3", SHADOW)


@dataclass
class World:
    root: Path
    stores: Stores
    settings: dict
    planted: str | None
    deleted: bool = False  # the planted installation asked for its deletion

    def cycle(self, now: datetime = NOW):
        return run_cycle(self.stores, self.settings, now=now, enrich=False)

    def serve(self) -> RunningServer:
        return start_server(self.root / "data", env={"SEMPERVIRENS_AGGREGATE_INTERVAL_SECONDS": "0"})


def _usage(client: str, day: date, rng: random.Random, **fields) -> Ping:
    metrics = {"counters": {"core.fit": rng.randint(1, 30)},
               "labeled_counters": {"io.format": {rng.choice(["csv", "parquet"]): rng.randint(1, 5)}},
               "timings": {"core.solve": {"count": 2, "sum_us": 3000,
                                          "buckets": {str(rng.randint(36, 44)): 2}}}}
    return Ping(PROJECT, client, day, metrics=metrics, hour=rng.randint(0, 23), **fields)


def population(seed: int, planted: str | None) -> list[Ping]:
    rng = random.Random(seed)
    pings = []
    clients = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(40)]
    for offset in range(DAYS):
        day = FIRST_DAY + timedelta(days=offset)
        for client in clients:
            if rng.random() < 0.6:
                pings.append(_usage(client, day, rng, version=rng.choice(["1.0", "1.1"])))
                if rng.random() < 0.05:
                    pings.append(Ping(PROJECT, client, day, ping_type="crash", metrics=None,
                                      crash_type="ValueError"))
        if rng.random() < 0.1:
            pings.append(Ping(PROJECT, None, day, ping_type="opt-out"))
    # Anyone may send pings for any project name, under made-up UUIDs.
    for _ in range(15):
        fake = str(uuid.uuid4())
        pings.append(Ping(SHADOW, fake, FIRST_DAY + timedelta(days=3)))
    if planted:
        for offset in (2, 3, 17):
            day = FIRST_DAY + timedelta(days=offset)
            ping = _usage(planted, day, rng, version="7.3", os="FreeBSD", arch="riscv64",
                          python="3.14.1")
            ping.metrics["counters"]["secret.plan"] = 1
            ping.metrics["labeled_counters"]["io.format"]["xlsx"] = 4
            pings.append(ping)
        pings.append(Ping(PROJECT, planted, FIRST_DAY + timedelta(days=3), ping_type="crash",
                          metrics=None, crash_type="PrivateError", version="7.3"))
    return pings


def declared(root: Path, declaration: str, registered_on: date = FIRST_DAY) -> Stores:
    """Real stores under root/data, PROJECT registered on `registered_on` with this
    declaration."""
    stores = open_stores(root / "data")
    projects.add(stores, PROJECT, declaration=parse(declaration),
                 registered_at=datetime.combine(registered_on, datetime.min.time(), timezone.utc))
    return stores


def exact_release(stores: Stores, root: Path, now: datetime) -> dict:
    """One real cycle at `now` without noise (no_dp), then the stores closed: each
    release's exact bounded counts, {(interval, period_start, statistic): {keys: n}}."""
    settings = settings_module.resolve(data_dir=str(root / "data"), no_dp=True)
    run_cycle(stores, settings, now=now, enrich=False)
    s = public_statistics.c
    out = defaultdict(dict)
    with stores.telemetry.connect() as connection:
        for r in connection.execute(select(s.interval, s.period_start, s.statistic, s.key1,
                                           s.key2, s.noisy)):
            out[r.interval, r.period_start, r.statistic][r.key1, r.key2] = r.noisy
    stores.dispose()
    return out


def build_world(root: Path, *, planted: str | None, seed: int = 7) -> World:
    data = root / "data"
    stores = declared(root, METRICS)
    insert(stores, population(seed, planted))
    values = settings_module.resolve(data_dir=str(data))
    world = World(root, stores, values, planted)
    world.cycle()
    return world

PLANTED = "0b9c7f0e-5b1a-4c47-9a55-6f1f2c3d4e5f"
