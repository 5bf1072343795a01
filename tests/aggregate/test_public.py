"""Public rollups on SQLite and PostgreSQL: the numbers, ISO weeks, incremental and idempotent runs."""

from __future__ import annotations

from datetime import date

from aggregate_helpers import rows, snapshot
from population import Ping, client, insert

from sempervirens.aggregate import tables
from sempervirens.aggregate.run import Config, run_cycle
from sempervirens.aggregate.tables import OTHER

SUNDAY, MONDAY = date(2026, 3, 1), date(2026, 3, 2)  # ISO week 9 ends, week 10 starts
TODAY = date(2026, 3, 20)
CONFIG = Config(k=10, enrich=False)


def _population() -> list[Ping]:
    pings = []
    for i in range(30):  # 30 clients on Sunday and Monday; versions 20 / 8 / 2
        c = client()
        version = "2.0" if i < 20 else "1.9" if i < 28 else "1.0"
        metrics = {"counters": {"core.fit": 3},
                   "labeled_counters": {"io.read": {"csv": 1, f"rare{i % 4}": 1}},
                   "timings": {"solve": {"count": 1, "sum_us": 40, "buckets": {"21": 1}}}}
        for day in (SUNDAY, MONDAY):
            pings.append(Ping("numpy", c, day, version=version, ci=i < 12, metrics=metrics))
        if i < 11:
            pings.append(Ping("numpy", c, MONDAY, ping_type="crash", crash_type="ValueError",
                              metrics=None))
    pings += [Ping("numpy", None, MONDAY, ping_type="opt-out") for _ in range(10)]
    pings += [Ping("tiny", client(), MONDAY) for _ in range(4)]  # under k: nothing public
    return pings


def test_rollups(stores):
    insert(stores, _population())
    report = run_cycle(stores, CONFIG, today=TODAY)
    assert report.public_days == [SUNDAY, MONDAY]
    installs = {(r.interval, str(r.period_start), r.breakdown, r.value): r.installs
                for r in rows(stores, tables.public_active_installs, project="numpy")}
    assert installs["day", "2026-03-01", "", ""] == 30
    assert installs["week", "2026-02-23", "", ""] == 30  # Sunday belongs to the week before
    assert installs["week", "2026-03-02", "", ""] == 30  # weeks start on Monday
    assert installs["month", "2026-03-01", "", ""] == 30
    # 1.0 (2 clients) is folded with the next smallest part, 1.9 (8), into '(other)'.
    assert installs["day", "2026-03-02", "version", "2.0"] == 20
    assert installs["day", "2026-03-02", "version", OTHER] == 10
    assert ("day", "2026-03-02", "version", "1.0") not in installs
    assert installs["day", "2026-03-02", "ci", "true"] == 12
    assert installs["day", "2026-03-02", "ci", "false"] == 18
    assert installs["day", "2026-03-02", "python", "3.11"] == 30
    assert not rows(stores, tables.public_active_installs, project="tiny")

    features = {(r.metric, r.label): (r.events, r.users)
                for r in rows(stores, tables.public_feature_usage, interval="day")
                if str(r.period_start) == "2026-03-02"}
    assert features == {("core.fit", ""): (90, 30), ("io.read", "csv"): (30, 30),
                        ("io.read", OTHER): (30, 30)}  # rare0..3: 7 or 8 each
    (timing,) = rows(stores, tables.public_timings, interval="week", period_start=MONDAY)
    assert (timing.metric, timing.users, timing.samples) == ("solve", 30, 30)
    assert 32 < timing.p50_us < 45  # bucket 21: 2**(21/4) .. 2**(22/4) microseconds
    (crash,) = rows(stores, tables.public_crashes, interval="day", period_start=MONDAY)
    assert (crash.exception_type, crash.crashes, crash.users) == ("ValueError", 11, 11)
    (opt,) = rows(stores, tables.public_opt_outs, interval="day", period_start=MONDAY)
    assert (opt.opt_outs, opt.active, round(opt.ratio, 3)) == (10, 30, 0.25)
    params = {r.name: r.value for r in rows(stores, tables.public_parameters)}
    assert params["k"] == "10" and params["dp_epsilon"] == ""


def test_rerun_changes_nothing_and_only_new_days_are_read(stores):
    insert(stores, _population())
    run_cycle(stores, CONFIG, today=TODAY)
    before = snapshot(stores)
    again = run_cycle(stores, CONFIG, today=TODAY)
    assert again.public_days == [] and again.private_days == []
    assert snapshot(stores) == before

    later = date(2026, 3, 3)
    insert(stores, [Ping("numpy", client(), later) for _ in range(12)])
    report = run_cycle(stores, CONFIG, today=TODAY)
    assert report.public_days == [later]
    after = snapshot(stores)
    day_rows = [r for r in after["public_active_installs"] if r[1] == "day"]
    assert [r for r in before["public_active_installs"] if r[1] == "day"] == [
        r for r in day_rows if r[2] != "2026-03-03"]  # earlier days untouched
    totals = {(r[1], r[2]): r[5] for r in after["public_active_installs"] if r[3] == ""
              and r[0] == "numpy"}
    assert totals["week", "2026-03-02"] == "42"  # the week was redone with the new day


def test_today_is_provisional_and_redone_when_it_grows(sqlite_stores):
    stores = sqlite_stores
    insert(stores, [Ping("numpy", client(), TODAY) for _ in range(10)])
    assert run_cycle(stores, CONFIG, today=TODAY).public_days == [TODAY]
    assert run_cycle(stores, CONFIG, today=TODAY).public_days == []  # unchanged: not redone
    insert(stores, [Ping("numpy", client(), TODAY) for _ in range(5)])
    assert run_cycle(stores, CONFIG, today=TODAY).public_days == [TODAY]
    (total,) = [r for r in rows(stores, tables.public_active_installs, interval="day")
                if r.breakdown == ""]
    assert total.installs == 15


def test_a_new_k_applies_to_every_published_period(sqlite_stores):
    stores = sqlite_stores
    insert(stores, _population())
    run_cycle(stores, CONFIG, today=TODAY)
    run_cycle(stores, Config(k=25, enrich=False), today=TODAY)
    assert all(r.installs >= 25 for r in rows(stores, tables.public_active_installs))
    assert all(r.users >= 25 for r in rows(stores, tables.public_feature_usage))
    assert not rows(stores, tables.public_crashes)


def test_a_client_counts_under_its_greatest_report(stores):
    """Each breakdown of a client comes from one report: its greatest version's (then
    OS, ...), a value not reported losing to any other; per day and merged into weeks."""
    TUESDAY = date(2026, 3, 3)
    clients = [client() for _ in range(10)]
    insert(stores, [Ping("numpy", c, MONDAY, version=version, os=os) for c in clients
                    for version, os in (("2.0", "Linux"), ("1.0", "Windows"), (None, "Windows"))])
    run_cycle(stores, CONFIG, today=TUESDAY)  # Monday is merged into its week
    insert(stores, [Ping("numpy", c, TUESDAY, version="1.5", os="Windows") for c in clients])
    run_cycle(stores, CONFIG, today=date(2026, 3, 4))  # and Tuesday, into the same week
    installs = {(r.interval, str(r.period_start), r.breakdown, r.value): r.installs
                for r in rows(stores, tables.public_active_installs, project="numpy")}
    for period in (("day", "2026-03-02"), ("week", "2026-03-02")):
        assert installs[(*period, "version", "2.0")] == 10
        assert installs[(*period, "os", "Linux")] == 10
        assert (*period, "os", "Windows") not in installs
    assert installs["day", "2026-03-03", "os", "Windows"] == 10
