"""The front page's headline: distinct installations in the last 30 complete days."""

from __future__ import annotations

from datetime import date, timedelta

from aggregate_helpers import rows
from population import Ping, client, insert

from sempervirens.aggregate import tables
from sempervirens.aggregate.run import Config, run_cycle

TODAY = date(2026, 6, 1)
CONFIG = Config(k=10, enrich=False)


def _recent(stores) -> dict[str, int]:
    return {str(r.period_start): r.installs for r in rows(stores, tables.public_active_installs, interval="30d")}


def test_the_last_30_complete_days_and_the_30_before(stores):
    pings = []
    for i in range(25):  # active in the last window, some on several days, one on its last day
        c = client()
        pings += [Ping("numpy", c, TODAY - timedelta(days=d)) for d in ((1, 30) if i == 0 else (2, 9))]
    for _ in range(12):  # only in the window before
        pings.append(Ping("numpy", client(), TODAY - timedelta(days=45)))
    pings.append(Ping("numpy", client(), TODAY))  # today is not complete: not counted yet
    pings.append(Ping("numpy", client(), TODAY - timedelta(days=31)))  # just outside: the earlier window
    pings += [Ping("tiny", client(), TODAY - timedelta(days=3)) for _ in range(4)]  # under k
    insert(stores, pings)
    run_cycle(stores, CONFIG, today=TODAY)

    assert _recent(stores) == {"2026-05-02": 25, "2026-04-02": 13}
    assert not [r for r in rows(stores, tables.public_active_installs, project="tiny", interval="30d")]

    # A day later both windows move: yesterday's newcomer enters, 2026-05-02 passes to the earlier one.
    run_cycle(stores, CONFIG, today=TODAY + timedelta(days=1))
    assert _recent(stores) == {"2026-05-03": 26, "2026-04-03": 14}


def test_not_published_under_differential_privacy(stores):
    insert(stores, [Ping("numpy", client(), TODAY - timedelta(days=2)) for _ in range(40)])
    run_cycle(stores, CONFIG, today=TODAY)
    assert _recent(stores)
    run_cycle(stores, Config(k=10, enrich=False, dp_epsilon=1.0), today=TODAY)
    assert _recent(stores) == {}
