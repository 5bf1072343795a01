"""A crowded address does not take its pings out of public numbers.

Neighbouring datasets: identical except for one installation (the target) that reports
once from a shared address (a university NAT) on which N - 1 other installations report
that day.  With the target, the address reaches `anomaly_min_clients`; were its pings
left out of public numbers, the target would decide whether N - 1 others are counted.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

from population import Ping, insert
from sqlalchemy import select

from sempervirens import settings as settings_module
from sempervirens.admin import projects
from sempervirens.cycle.run import run_cycle
from sempervirens.model.declarations import parse
from sempervirens.release.tables import public_releases, public_statistics
from sempervirens.store import open_stores

PROJECT = "demo"
DAY = date(2026, 10, 2)
NOW = datetime(2026, 10, 4, 6, tzinfo=timezone.utc)
NAT = "10.200.0.1"
N = 1000  # anomaly_min_clients (operator setting; default 100,000 behaves the same)
BACKGROUND = 200


def world(root, target: bool, no_dp: bool):
    data = root / "data"
    stores = open_stores(data)
    projects.add(stores, PROJECT, declaration=parse('versions = ["1.0"]\n'),
                 registered_at=datetime(2026, 10, 1, tzinfo=timezone.utc))
    pings = [Ping(PROJECT, str(uuid.UUID(int=i + 1, version=4)), DAY) for i in range(BACKGROUND)]
    pings += [Ping(PROJECT, str(uuid.UUID(int=10**6 + i, version=4)), DAY, ip=NAT)
              for i in range(N - 1)]
    if target:
        pings.append(Ping(PROJECT, "0b9c7f0e-5b1a-4c47-9a55-6f1f2c3d4e5f", DAY, ip=NAT))
    insert(stores, pings)
    settings = settings_module.resolve(data_dir=str(data), anomaly_min_clients=N, no_dp=no_dp)
    run_cycle(stores, settings, now=NOW, enrich=False)
    r, s = public_releases.c, public_statistics.c
    with stores.telemetry.connect() as c:
        value = c.execute(select(s.noisy).where(
            s.project == PROJECT, s.interval == "day", s.period_start == DAY,
            s.statistic == "installs", s.key1 == "", s.key2 == "")).scalar_one()
        scale = c.execute(select(r.statistics).where(
            r.project == PROJECT, r.interval == "day", r.period_start == DAY)
        ).scalar_one()["installs"]["scale"]
    stores.dispose()
    return value, scale


def test_one_installation_at_a_crowded_address_moves_the_total_by_one_at_most(tmp_path):
    with_exact, _ = world(tmp_path / "a", target=True, no_dp=True)
    without_exact, _ = world(tmp_path / "b", target=False, no_dp=True)
    with_dp, scale = world(tmp_path / "c", target=True, no_dp=False)
    without_dp, _ = world(tmp_path / "d", target=False, no_dp=False)
    print(f"\nexact installs total, day {DAY}: with target {with_exact}, "
          f"without {without_exact} (difference {without_exact - with_exact}; the release "
          f"assumes at most 1 per count, 11 over the vector)")
    print(f"published (DP) total: with target {with_dp}, without {without_dp}; "
          f"noise scale {scale:.1f}: likelihood ratio "
          f"~ e^{abs(without_exact - with_exact) / scale * 11:.0f}"
          f" over the vector, allowed e^{11 / scale:.2f}")
    assert abs(without_exact - with_exact) <= 1, "one installation moved a count by more than 1"
