"""Property: for random populations, no public row describes fewer than k clients, and no
total minus published parts lets a suppressed part be recomputed."""

from __future__ import annotations

import collections
import tempfile
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from population import Ping, insert
from sqlalchemy import select

from sempervirens.aggregate import tables
from sempervirens.aggregate.recent import INTERVAL as RECENT
from sempervirens.aggregate.run import Config, run_cycle
from sempervirens.store import open_stores

K = 5
DAYS = (date(2026, 3, 1), date(2026, 3, 2))  # a Sunday and a Monday: two ISO weeks

client_strategy = st.fixed_dictionaries({
    "versions": st.lists(st.sampled_from(["1", "2", "3", "4", "5"]), min_size=1, max_size=2),
    "os": st.sampled_from(["Linux", "Linux", "Linux", "macOS", "Windows", "FreeBSD"]),
    "days": st.sets(st.sampled_from(DAYS), min_size=1),
    "labels": st.sets(st.sampled_from("abcdef"), max_size=3),
    "crash": st.sampled_from([None, None, "ValueError", "KeyError"]),
    "project": st.sampled_from(["numpy", "numpy", "scipy"]),
})


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(client_strategy, max_size=60))
def test_no_small_cell_and_no_revealing_complement(population):
    with tempfile.TemporaryDirectory() as directory:
        stores = open_stores(directory)
        try:
            pings = []
            for n, c in enumerate(population):
                cid = f"00000000-0000-4000-8000-{n:012d}"
                for i, day in enumerate(sorted(c["days"])):
                    version = c["versions"][min(i, len(c["versions"]) - 1)]
                    metrics = {"labeled_counters": {"io.read": {label: 1 for label in c["labels"]}}}
                    pings.append(Ping(c["project"], cid, day, version=version, os=c["os"],
                                      metrics=metrics))
                    if c["crash"]:
                        pings.append(Ping(c["project"], cid, day, ping_type="crash",
                                          crash_type=c["crash"], version=version, metrics=None))
            if pings:
                insert(stores, pings)
            run_cycle(stores, Config(k=K, enrich=False), today=date(2026, 4, 1))
            _check(stores)
        finally:
            stores.dispose()


def _check(stores) -> None:
    with stores.telemetry.connect() as connection:
        installs = connection.execute(select(tables.public_active_installs)).all()
        features = connection.execute(select(tables.public_feature_usage)).all()
        crashes = connection.execute(select(tables.public_crashes)).all()
        timings = connection.execute(select(tables.public_timings)).all()
        opt_outs = connection.execute(select(tables.public_opt_outs)).all()
    assert all(r.installs >= K for r in installs)
    assert all(r.users >= K for r in features + crashes + timings)
    assert all(r.opt_outs >= K and r.active >= K for r in opt_outs)
    totals, parts = {}, collections.defaultdict(int)
    for r in installs:
        period = (r.project, r.interval, str(r.period_start))
        if r.breakdown == "":
            totals[period] = r.installs
        else:
            parts[period + (r.breakdown,)] += r.installs
    for (project, interval, start, breakdown), published in parts.items():
        # Parts are published only beside their total, and add up to it exactly:
        # total minus the published parts is 0, so nothing suppressed can be derived.
        assert totals[project, interval, start] == published, breakdown
    for period, total in totals.items():
        if period[1] == RECENT:  # the front page's rolling 30-day total has no breakdowns
            continue
        for breakdown in tables.BREAKDOWNS[1:]:
            assert parts[period + (breakdown,)] == total


def test_secondary_suppression_folds_the_smallest_large_part(sqlite_stores):
    from sqlalchemy import text

    from sempervirens.aggregate.suppress import fold_partition

    with sqlite_stores.telemetry.connect() as connection:
        parts = ("(SELECT 'p' AS project, 'big' AS value, 30 AS n UNION ALL "
                 "SELECT 'p', 'medium', 12 UNION ALL SELECT 'p', 'lone', 2) parts")
        published = dict(connection.execute(
            text(f"SELECT value, n FROM ({fold_partition(parts, 'project')})"), {"k": 10}).all())
    # 'lone' alone would make an '(other)' of 2, which total minus the rest reveals:
    # 'medium' is folded in with it.
    assert published == {"big": 30, tables.OTHER: 14}
