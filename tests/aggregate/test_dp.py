"""Differential privacy (OpenDP): noisy install counts, budget published, whole periods once."""

from __future__ import annotations

from datetime import date

from aggregate_helpers import rows, snapshot
from population import Ping, client, insert

from sempervirens.aggregate import tables
from sempervirens.aggregate.dp import DifferentialPrivacy
from sempervirens.aggregate.run import Config, run_cycle

MONDAY, SUNDAY, TODAY = date(2026, 3, 2), date(2026, 3, 8), date(2026, 3, 10)
CONFIG = Config(k=10, dp_epsilon=6.0, dp_delta=1e-6, enrich=False)


def test_noisy_counts_with_published_budget(sqlite_stores):
    stores = sqlite_stores
    clients = [client() for _ in range(300)]
    insert(stores, [Ping("numpy", c, day, version="2.0" if i % 3 else "1.0")
                    for i, c in enumerate(clients) for day in (MONDAY, SUNDAY, TODAY)])
    run_cycle(stores, CONFIG, today=TODAY)
    installs = rows(stores, tables.public_active_installs)
    dp = DifferentialPrivacy(6.0, 1e-6)
    assert all(r.installs >= max(10, dp.threshold) for r in installs)
    totals = {(r.interval, str(r.period_start)): r.installs for r in installs if r.breakdown == ""}
    # Whole periods only: the week of Mar 2 and its days are out; today and March are not.
    assert set(totals) == {("day", "2026-03-02"), ("day", "2026-03-08"), ("week", "2026-03-02")}
    assert all(abs(n - 300) < 60 for n in totals.values())  # scale 6/6 = 1: small noise
    params = {r.name: r.value for r in rows(stores, tables.public_parameters)}
    assert float(params["dp_epsilon"]) == 6.0 and float(params["dp_delta"]) == 1e-6
    assert "OpenDP" in params["dp_mechanism"] and "public_active_installs" in params["dp_scope"]

    before = snapshot(stores)
    run_cycle(stores, CONFIG, today=TODAY)  # no new noise: nothing is released twice
    assert snapshot(stores) == before


def test_fold_on_noisy_counts():
    dp = DifferentialPrivacy(1.0, 1e-6)
    floor = dp.threshold
    parts = {"a": int(floor) + 50, "b": int(floor) + 1, "c": 3}
    # c alone cannot make '(other)': b, the smallest large part, is folded in with it.
    assert dp.fold(parts, 10) == {"a": int(floor) + 50, tables.OTHER: int(floor) + 4}
