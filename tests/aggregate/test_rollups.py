"""Rollups kept between cycles: merging each day as it ends gives exactly the rows of
one aggregation of everything; those of ended periods are pruned; a redone day
rebuilds its periods; and so does a day that a failed run merged in part."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from aggregate_helpers import snapshot
from population import Ping, client, insert
from sqlalchemy import delete, inspect, text

from sempervirens.aggregate import run, tables
from sempervirens.aggregate.public import aggregate_range
from sempervirens.aggregate.run import Config, aggregate_public
from sempervirens.aggregate.retention import purge_expired
from sempervirens.aggregate.state import mark_dirty
from sempervirens.store.schema import pings

FIRST = date(2026, 1, 20)  # 25 days over two months and five ISO weeks
DAYS = 25
CONFIG = Config(k=3, enrich=False)


def _day_of_pings(rng: random.Random, clients: list[str], day: date) -> list[Ping]:
    out = []
    for c in rng.sample(clients, 12):
        version = rng.choice(["1.0", "1.1", "2.0"])  # may change from day to day
        metrics = {"counters": {rng.choice(["fit", "plot"]): rng.randint(1, 3)},
                   "labeled_counters": {"io.read": {rng.choice(["csv", "hdf5", "npy"]): 1}},
                   "timings": {"solve": {"count": 1, "sum_us": 9,
                                         "buckets": {str(rng.randint(10, 14)): 1}}}}
        out.append(Ping("numpy", c, day, version=version, os=rng.choice(["Linux", "Darwin"]),
                        ci=rng.random() < 0.3, metrics=metrics))
        if rng.random() < 0.2:
            out.append(Ping("numpy", c, day, ping_type="crash", crash_type="ValueError",
                            version=version, metrics=None))
    out += [Ping("numpy", None, day, ping_type="opt-out") for _ in range(rng.randint(0, 4))]
    return out


def _forget_aggregates(stores) -> None:
    with stores.telemetry.begin() as connection:
        for table in (*tables.PUBLIC_TABLES, *tables.ROLLUP_TABLES, tables.aggregated_days):
            connection.execute(delete(table))


def test_merging_each_day_equals_aggregating_everything_at_once(stores):
    rng = random.Random(7)
    clients = [client() for _ in range(20)]
    end = FIRST + timedelta(days=DAYS)
    for day in (FIRST + timedelta(days=i) for i in range(DAYS)):
        morning, evening = _day_of_pings(rng, clients, day), _day_of_pings(rng, clients, day)
        insert(stores, morning)
        aggregate_public(stores.telemetry, CONFIG, day)  # today: provisional
        insert(stores, evening)
        aggregate_public(stores.telemetry, CONFIG, day)  # today again, grown
    assert aggregate_public(stores.telemetry, CONFIG, end) == [end - timedelta(days=1)]
    merged = snapshot(stores)
    assert any(r[1] == "month" for r in merged["public_feature_usage"])

    _forget_aggregates(stores)
    assert len(aggregate_public(stores.telemetry, CONFIG, end)) == DAYS
    assert snapshot(stores) == merged


def test_ended_periods_are_pruned_and_a_redone_day_rebuilds_its_week_and_month(stores):
    rng = random.Random(11)
    clients = [client() for _ in range(20)]
    end = FIRST + timedelta(days=DAYS)
    insert(stores, [p for i in range(DAYS)
                    for p in _day_of_pings(rng, clients, FIRST + timedelta(days=i))])
    aggregate_public(stores.telemetry, CONFIG, end)
    purge_expired(stores, 30, end)  # drops the rollups of the weeks and months that ended
    with stores.telemetry.connect() as connection:
        kept = {str(start)[:10] for (start,) in connection.execute(
            text("SELECT DISTINCT period_start FROM rollup_clients"))}
    assert kept == {"2026-02-01", "2026-02-09"}  # the month and the week still open
    # One client's pings go (as after a deletion request) and the days it was seen on
    # are marked to redo; its rows are left in the rollups, which only a rebuild of
    # its weeks, months and windows takes out.
    gone = clients[0]
    with stores.telemetry.begin() as connection:
        days = [r.day for r in connection.execute(
            text("SELECT DISTINCT day FROM pings WHERE client_id = :c"), {"c": gone})]
        connection.execute(delete(pings).where(pings.c.client_id == gone))
        mark_dirty(connection, tables.aggregated_days, days)
    aggregate_public(stores.telemetry, CONFIG, end)
    after_deletion = snapshot(stores)

    _forget_aggregates(stores)
    aggregate_public(stores.telemetry, CONFIG, end)
    assert snapshot(stores) == after_deletion


def test_a_lane_that_fails_leaves_its_day_to_the_next_run(stores, monkeypatch):
    """Lanes commit on their own (lanes.py): after a failure some periods have
    merged the day and others not; the next run must still count it once."""
    rng = random.Random(13)
    clients = [client() for _ in range(20)]
    end = FIRST + timedelta(days=DAYS)
    last = end - timedelta(days=1)
    insert(stores, [p for i in range(DAYS - 1)
                    for p in _day_of_pings(rng, clients, FIRST + timedelta(days=i))])
    aggregate_public(stores.telemetry, CONFIG, last)
    insert(stores, _day_of_pings(rng, clients, last))

    def month_fails(connection, d, interval, *args):
        if interval == "month":  # after its merge of the day committed
            raise RuntimeError("lost connection")
        aggregate_range(connection, d, interval, *args)

    monkeypatch.setattr(run, "aggregate_range", month_fails)
    with pytest.raises(RuntimeError):
        aggregate_public(stores.telemetry, CONFIG, end)
    assert not [name for name in inspect(stores.telemetry).get_table_names()
                if name.startswith("base_")]  # the shared tables are gone
    with stores.telemetry.connect() as connection:  # the month had merged the day
        through = connection.execute(text(
            "SELECT merged_through FROM rollup_periods WHERE \"interval\" = 'month' "
            "ORDER BY period_start DESC")).scalar()
    assert str(through)[:10] == last.isoformat()
    monkeypatch.undo()
    assert aggregate_public(stores.telemetry, CONFIG, end) == [last]
    after_failure = snapshot(stores)

    _forget_aggregates(stores)
    aggregate_public(stores.telemetry, CONFIG, end)
    assert snapshot(stores) == after_failure
