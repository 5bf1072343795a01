"""Releases: each period once, after it has ended; corrections are explicit new versions;
the released row set does not depend on the data (except through partition selection)."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone

import pytest
from release_helpers import LATER, MONDAY, day_exact, release_days
from sqlalchemy import select

from sempervirens.model.domains import BREAKDOWN_NAMES, OTHER, UNKNOWN
from sempervirens.release import (
    AlreadyReleased,
    NotClosed,
    NothingToCorrect,
    public_releases,
    public_statistics,
    release_period,
)
from sempervirens.release.uncertainty import laplace_halfwidth


def snapshot(engine):
    with engine.connect() as connection:
        return (connection.execute(select(public_releases).order_by(
                    public_releases.c.release_id)).all(),
                connection.execute(select(public_statistics).order_by(
                    public_statistics.c.release_id, public_statistics.c.statistic,
                    public_statistics.c.key1, public_statistics.c.key2)).all())


def rows_of(engine, **where):
    query = select(public_statistics)
    for name, value in where.items():
        query = query.where(public_statistics.c[name] == value)
    with engine.connect() as connection:
        return connection.execute(query).mappings().all()


def test_a_period_is_released_once_and_never_changes(any_engine, domains, settings):
    engine = any_engine
    released = release_period(engine, domains, "day", MONDAY, day_exact(MONDAY), settings,
                              now=LATER)
    assert [r.project for r in released] == ["numpy", "scipy"]
    assert all(r.version == 1 and r.correction_of is None for r in released)
    before = snapshot(engine)
    with pytest.raises(AlreadyReleased, match="was released"):
        release_period(engine, domains, "day", MONDAY, day_exact(MONDAY, 9999), settings,
                       now=LATER)
    assert snapshot(engine) == before  # nothing written, nothing changed


def test_a_correction_is_a_new_version_with_its_own_budget(any_engine, domains, settings):
    engine = any_engine
    with pytest.raises(NothingToCorrect):
        release_period(engine, domains, "day", MONDAY, day_exact(MONDAY), settings, now=LATER,
                       correction=True)
    first = release_period(engine, domains, "day", MONDAY, day_exact(MONDAY), settings,
                           now=LATER)
    _, rows_before = snapshot(engine)
    second = release_period(engine, domains, "day", MONDAY, day_exact(MONDAY, 6000), settings,
                            now=LATER, correction=True)
    assert [r.version for r in second] == [2, 2]
    assert [r.correction_of for r in second] == [r.release_id for r in first]
    ledger, rows_after = snapshot(engine)
    assert len(ledger) == 4 and rows_after[:len(rows_before)] == rows_before
    spent = [row.epsilon for row in ledger if row.project == "numpy"]
    assert len(spent) == 2 and all(0.49 < e <= 0.5 for e in spent)  # each version spends


def test_only_closed_periods_are_released(engine, domains, settings):
    day = date(2026, 12, 4)
    grace_ends = datetime(2026, 12, 5, 2, tzinfo=timezone.utc)
    with pytest.raises(NotClosed, match="2026-12-05T02:00"):
        release_period(engine, domains, "day", day, day_exact(day), settings,
                       now=grace_ends - timedelta(seconds=1))
    release_period(engine, domains, "day", day, day_exact(day), settings, now=grace_ends)
    # a week waits for all of its days
    release_days(engine, domains, settings, MONDAY, 6)
    with pytest.raises(NotClosed, match="waits for day 2026-11-08"):
        release_period(engine, domains, "week", MONDAY, {}, settings, now=LATER)
    release_days(engine, domains, settings, MONDAY + timedelta(days=6), 1)
    week = release_period(engine, domains, "week", MONDAY, {}, settings, now=LATER)
    assert [r.interval for r in week] == ["week", "week"]
    with pytest.raises(NotClosed, match="waits for day"):
        release_period(engine, domains, "month", date(2026, 11, 1), {}, settings, now=LATER)


def test_every_fixed_key_is_released_and_nothing_undeclared(engine, domains, settings):
    exact = day_exact(MONDAY)
    exact["installs"].append(("numpy", MONDAY, "os", "plan9", 10**6))  # not in the domain
    exact["feature_users"].append(("numpy", MONDAY, "undeclared.metric", "", 10**6))
    exact["installs"].append(("unregistered", MONDAY, "", "", 10**6))
    release_period(engine, domains, "day", MONDAY, exact, settings, now=LATER)
    for statistic in ("installs", "feature_users", "timing_users", "crash_users", "opt_outs"):
        released = {(r["key1"], r["key2"]) for r in
                    rows_of(engine, project="numpy", statistic=statistic)}
        fixed = set(domains["numpy"][statistic].fixed)
        assert fixed <= released, statistic
        assert {k for k in released - fixed if not domains["numpy"][statistic].is_open(k)} == set()
    keys = {(r["key1"], r["key2"]) for r in rows_of(engine, statistic="installs")}
    assert ("os", "plan9") not in keys
    assert {r["project"] for r in rows_of(engine)} == {"numpy", "scipy"}
    # a declared crash kind with no crash at all is a row (zero plus noise)
    crash = rows_of(engine, project="numpy", statistic="crash_users", key1="ValueError",
                    key2=UNKNOWN)
    assert len(crash) == 1


def test_values_below_k_are_withheld_but_their_row_stays(engine, domains, settings):
    release_period(engine, domains, "day", MONDAY, day_exact(MONDAY), settings, now=LATER)
    k = settings["k_anonymity"]
    rows = rows_of(engine, project="numpy", statistic="installs")
    withheld = [r for r in rows if r["value"] is None]
    shown = [r for r in rows if r["value"] is not None]
    assert withheld and shown  # most breakdown values have no installation at all
    # installs: sensitivity 1 + the breakdowns (11), over its share of a day's 0.5 (8 / 14)
    q = laplace_halfwidth((1 + len(BREAKDOWN_NAMES)) / (0.5 * 8 / 14))
    for row in withheld:
        assert row["noisy"] < k and (row["low"], row["high"]) == (0, k - 1 + q)
    for row in shown:
        assert row["value"] >= k and row["low"] <= row["value"] <= row["high"]
        assert row["high"] - row["value"] == q
    total = next(r for r in rows if r["key1"] == "")
    assert abs(total["value"] - 5000) < 300 and math.isclose(total["noise_sd"], 54.4, rel_tol=0.01)


def test_open_versions_need_partition_selection(engine, domains, settings):
    release_period(engine, domains, "day", MONDAY, day_exact(MONDAY), settings, now=LATER)
    versions = {r["key2"]: r for r in rows_of(engine, project="numpy", statistic="installs",
                                               key1="version")}
    # 4900 installations pass the threshold (about 720); 100 do not; OTHER/UNKNOWN are fixed
    assert set(versions) == {"2.1", OTHER, UNKNOWN}
    ledger = rows_of_ledger(engine, "numpy")[0]["statistics"]["installs"]
    assert 600 < ledger["threshold"] < 850 and 0 < ledger["delta"] <= ledger["share_delta"]
    scipy = rows_of_ledger(engine, "scipy")[0]
    assert scipy["delta"] == 0 and scipy["statistics"]["installs"]["threshold"] is None


def rows_of_ledger(engine, project):
    with engine.connect() as connection:
        return connection.execute(select(public_releases).where(
            public_releases.c.project == project)).mappings().all()


def test_weeks_sum_their_released_days_without_new_noise(engine, domains, settings):
    release_days(engine, domains, settings, MONDAY, 7)
    release_period(engine, domains, "week", MONDAY, {
        "installs": [("numpy", MONDAY, "", "", 20000)]}, settings, now=LATER)
    days = rows_of(engine, project="numpy", interval="day", statistic="feature_events")
    week = rows_of(engine, project="numpy", interval="week", statistic="feature_events")
    assert len(days) == 7 * len(week) and len(week) == len(domains["numpy"]["feature_events"].fixed)
    cell = next(r for r in week if r["key1"] == "io.read_csv")
    day_cells = [r for r in days if r["key1"] == "io.read_csv"]
    assert cell["noisy"] == sum(r["noisy"] for r in day_cells)
    assert math.isclose(cell["noise_sd"], math.sqrt(7) * day_cells[0]["noise_sd"])
    assert cell["low"] < 7 * 50000 < cell["high"] or abs(cell["value"] - 350000) > cell["noise_sd"]
    ledger = rows_of_ledger(engine, "numpy")
    week_entry = next(e for e in ledger if e["interval"] == "week")
    assert week_entry["statistics"]["feature_events"]["epsilon"] == 0
    assert 0.24 < week_entry["epsilon"] <= 0.25
    # installs of the week are noised afresh from the week's exact count
    installs = rows_of(engine, project="numpy", interval="week", statistic="installs", key1="")
    assert abs(installs[0]["value"] - 20000) < 500


def test_a_week_over_a_day_released_without_dp_withholds_its_sums(engine, domains, settings):
    """A week's event counts are the sums of its released days: over a day released under
    no_dp they published its exact counts, in a release whose epsilon was finite."""
    release_days(engine, domains, {**settings, "no_dp": True}, MONDAY, 1)
    release_days(engine, domains, settings, MONDAY + timedelta(days=1), 6)
    release_period(engine, domains, "week", MONDAY, {
        "installs": [("numpy", MONDAY, "", "", 20000)]}, settings, now=LATER)
    for statistic in ("feature_events", "crash_events", "opt_outs"):
        assert rows_of(engine, project="numpy", interval="week", statistic=statistic) == []
    week_entry = next(e for e in rows_of_ledger(engine, "numpy") if e["interval"] == "week")
    assert math.isfinite(week_entry["epsilon"])
    assert week_entry["statistics"]["feature_events"]["mechanism"].startswith("withheld")
    assert rows_of(engine, project="numpy", interval="week", statistic="installs")


def test_timing_percentiles_come_from_the_noisy_histogram(engine, domains, settings):
    release_period(engine, domains, "day", MONDAY, day_exact(MONDAY), settings, now=LATER)
    rows = {r["key2"]: r for r in rows_of(engine, project="numpy", statistic="timing_percentile")}
    assert set(rows) == {"p50", "p90", "p99"}
    # 3000 installations in each of buckets 10..15: p50 is bucket 12 give or take the noise
    assert 10 <= rows["p50"]["value"] <= 14
    assert rows["p50"]["low"] <= rows["p50"]["value"] <= rows["p50"]["high"]
    assert rows["p50"]["value"] <= rows["p90"]["value"] <= rows["p99"]["value"]


def test_no_dp_releases_exact_counts_and_says_so(engine, domains, settings):
    settings = {**settings, "no_dp": True}
    released = release_period(engine, domains, "day", MONDAY, day_exact(MONDAY), settings,
                              now=LATER)
    assert released[0].epsilon == math.inf and "no_dp" in released[0].mechanism
    total = rows_of(engine, project="numpy", statistic="installs", key1="")[0]
    assert total["value"] == 5000 and total["noise_sd"] == 0
    assert len(rows_of_ledger(engine, "numpy")) == 1
