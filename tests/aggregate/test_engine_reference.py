"""The engine's SQL equals a plain Python computation of the same definitions
(model.domains.public_value for the breakdowns) on random lakes, exactly."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import pytest

from engine_helpers import random_declared, random_pings, write_lake
from sempervirens.aggregate.engine import compute
from sempervirens.model.declarations import Declaration
from sempervirens.model.domains import BREAKDOWNS, BY_NAME, OTHER, UNKNOWN, public_value
from sempervirens.model.limits import BUCKETS_PER_DOUBLING, MAX_BUCKET
from sempervirens.model.periods import period_start
from sempervirens.model.statistics import STATISTICS, Bounds

DAYS = [date(2026, 11, 25) + timedelta(days=i) for i in range(10)]  # across weeks and months


def declarations(declared) -> dict[str, Declaration]:
    """The projects' Declarations back from their rows (what the engine is given)."""
    from sempervirens.model.declarations import Metric

    by_project = defaultdict(list)
    for project, *row in declared:
        by_project[project].append(row)
    made = {}
    for project, rows in by_project.items():
        metrics = {}
        for kind, name, label in rows:
            if kind in ("counter", "labeled_counter", "timing"):
                metrics.setdefault((name, kind), []).append(label)
        made[project] = Declaration(
            tuple(Metric(name, kind, "-", labels=tuple(labels) if kind == "labeled_counter"
                         else ()) for (name, kind), labels in metrics.items()),
            tuple(n for k, n, _ in rows if k == "version"),
            tuple(n for k, n, _ in rows if k == "crash"))
    return made


def reference(pings, interval, starts, declared, bounds: Bounds):
    decls = defaultdict(Declaration, declarations(declared))
    starts = set(starts)
    out = {s.name: defaultdict(int) for s in STATISTICS if interval in s.intervals}
    greatest = {}  # (project, start, client) -> {breakdown: value}
    cell_days = defaultdict(int)  # (project, start, client, day, metric, label) -> events
    histograms = defaultdict(lambda: defaultdict(int))
    crash_days = defaultdict(int)
    for p in pings:
        start = period_start(interval, p["day"])
        if start not in starts:
            continue
        project, client, decl = p["project"], p["client_id"], decls[p["project"]]
        if p["ping_type"] == "opt-out":
            if "opt_outs" in out:
                out["opt_outs"][(project, start, "", "")] += 1
            continue
        if client is None:
            continue
        version = public_value(BY_NAME["version"], p.get("project_version"), decl.versions)
        if p["ping_type"] == "crash":
            crash_type = p.get("crash_type")
            kind = UNKNOWN if crash_type is None else \
                crash_type if crash_type in decl.crash_kinds else OTHER
            crash_days[(project, start, client, p["day"], kind, version)] += 1
            continue
        if p["ping_type"] != "usage":
            continue
        values = {b.name: public_value(b, p.get(b.field), decl.versions) for b in BREAKDOWNS}
        known = greatest.setdefault((project, start, client), values)
        for name, value in values.items():
            known[name] = max(known[name], value)
        for metric, label, value in p["counters"]:
            declared_metric = decl.by_name.get(metric)
            if value <= 0 or declared_metric is None:
                continue
            if declared_metric.kind == "counter" and label == "":
                cell = (metric, "")
            elif declared_metric.kind == "labeled_counter" and label != "":
                cell = (metric, label if label in declared_metric.labels else OTHER)
            else:
                continue
            cell_days[(project, start, client, p["day"], *cell)] += value
        for metric, bucket, count in p["timings"]:
            # only the protocol's buckets (a lake row with another one is damaged)
            if count > 0 and decl.allows("timing", metric) and bucket is not None \
                    and 0 <= bucket <= MAX_BUCKET:
                histograms[(project, start, client, metric)][bucket] += count

    for (project, start, client), values in greatest.items():
        out["installs"][(project, start, "", "")] += 1
        for name, value in values.items():
            out["installs"][(project, start, name, value)] += 1

    def capped(daily, bound_day, bound_cells, users, events):
        per_client = defaultdict(lambda: defaultdict(int))
        for (project, start, client, _day, k1, k2), n in daily.items():
            per_client[(project, start, client)][(k1, k2)] += min(n, bound_day)
        for (project, start, client), found in per_client.items():
            chosen = sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))[:bound_cells]
            for (k1, k2), n in chosen:
                out[users][(project, start, k1, k2)] += 1
                if events in out:
                    out[events][(project, start, k1, k2)] += n

    capped(cell_days, bounds.max_events_per_day, bounds.max_features, "feature_users",
           "feature_events")
    capped(crash_days, bounds.max_crashes_per_day, bounds.max_crash_cells, "crash_users",
           "crash_events")

    medians = defaultdict(list)
    for (project, start, client, metric), histogram in histograms.items():
        total, running = sum(histogram.values()), 0
        for bucket in sorted(histogram):
            running += histogram[bucket]
            if 2 * running >= total:
                break
        medians[(project, start, client)].append((total, metric, bucket))
    for (project, start, _), found in medians.items():
        for _, metric, bucket in sorted(found, key=lambda t: (-t[0], t[1]))[:bounds.max_timings]:
            lower = str(2 ** (bucket // BUCKETS_PER_DOUBLING))
            out["timing_users"][(project, start, metric, lower)] += 1
    return {name: sorted((*key[:2], *key[2:], n) for key, n in counts.items())
            for name, counts in out.items()}


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    pings = random_pings(seed=17, days=DAYS)
    return pings, write_lake(tmp_path_factory.mktemp("lake"), pings)


@pytest.mark.parametrize("bounds", [Bounds(), Bounds(2, 3, 1, 1, 2)], ids=["default", "tight"])
@pytest.mark.parametrize("interval", ["day", "week", "month"])
def test_duckdb_equals_the_python_reference(lake, interval, bounds):
    pings, source = lake
    starts = sorted({period_start(interval, d) for d in DAYS})
    expected = reference(pings, interval, starts, random_declared(), bounds)
    found = compute(source, interval, starts, random_declared(), bounds)
    assert found.keys() == expected.keys()
    for name in found:
        assert found[name] == expected[name], name
    # the lake is rich enough for every statistic to have rows, bounds to bite
    assert all(found.values())


def test_the_bounds_bite_on_the_random_lake(lake):
    pings, source = lake
    week = [date(2026, 11, 30)]
    loose = compute(source, "week", week, random_declared(), Bounds(100, 10**9, 100, 100, 10**9))
    tight = compute(source, "week", week, random_declared(), Bounds(2, 3, 1, 1, 2))
    for name in ("feature_users", "timing_users", "crash_users"):
        assert sum(r[-1] for r in tight[name]) < sum(r[-1] for r in loose[name]), name
    assert tight["installs"] == loose["installs"]
    day = DAYS
    loose = compute(source, "day", day, random_declared(), Bounds(100, 10**9, 100, 100, 10**9))
    tight = compute(source, "day", day, random_declared(), Bounds(100, 3, 100, 100, 1))
    for name in ("feature_events", "crash_events"):
        assert sum(r[-1] for r in tight[name]) < sum(r[-1] for r in loose[name]), name
