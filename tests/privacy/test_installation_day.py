"""'Everything published about one day of one installation's data ... is bounded by
eps = 1' (docs/release.md).  One day of an installation that is active on other days of
the week changes the week's counts by up to twice what adding or removing a whole
installation does: it moves the installation from one value of every breakdown to
another (MAX over the week), and swaps every one of its kept feature cells (the cap
keeps the cells with the most events).  The week's noise is for that."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from population import Ping, insert
from sqlalchemy import update
from worlds import declared, exact_release

from sempervirens.model.statistics import BY_NAME, Bounds
from sempervirens.release.mechanisms import contribution
from sempervirens.store.schema import pings as pings_table

MONDAY = date(2026, 10, 5)
TUESDAY = MONDAY + timedelta(days=1)
NOW = datetime(2026, 10, 13, 6, tzinfo=timezone.utc)
DECL = 'versions = ["1.0", "1.1"]\n' + "\n".join(
    f'[metrics."c{i:02d}"]\nkind = "counter"\ndescription = "x"' for i in range(20))
TARGET = "0b9c7f0e-5b1a-4c47-9a55-6f1f2c3d4e5f"
TUESDAY_ENV = {"scheduler": "slurm", "container": "singularity", "notebook": "jupyter",
               "install_method": "system", "ci_provider": "travis"}


def world(root, tuesday: bool) -> dict:
    stores = declared(root, DECL)
    pings = []
    for d in range(7):
        day = MONDAY + timedelta(days=d)
        pings += [Ping("demo", f"00000000-0000-4000-8000-{c:012d}", day) for c in range(20)]
        if day == TUESDAY:
            if tuesday:  # the day whose data the promise is about
                pings.append(Ping("demo", TARGET, day, version="1.1", os="Windows",
                                  arch="x86_64", python="3.9.1", ci=True,
                                  metrics={"counters": {f"c{i:02d}": 10 for i in range(10, 20)}},
                                  document_id="11111111-1111-4111-8111-111111111111"))
        elif day == MONDAY:
            pings.append(Ping("demo", TARGET, day, version="1.0", os="Linux", arch="arm64",
                              python="3.10.2", ci=False,
                              metrics={"counters": {f"c{i:02d}": 10 for i in range(10)}}))
        else:
            pings.append(Ping("demo", TARGET, day, version="1.0", os="Linux", arch="arm64",
                              python="3.10.2", ci=False,
                              metrics={"counters": {f"c{i:02d}": 1 for i in range(10, 20)}}
                              if day == MONDAY + timedelta(days=2) else {"counters": {}}))
    insert(stores, pings)
    if tuesday:
        with stores.telemetry.begin() as c:
            c.execute(update(pings_table).where(
                pings_table.c.document_id == "11111111-1111-4111-8111-111111111111")
                .values(**TUESDAY_ENV))
    released = exact_release(stores, root, NOW)
    return {name: cells for (interval, start, name), cells in released.items()
            if (interval, start) == ("week", MONDAY)}


def test_one_day_of_an_installation_moves_a_week_within_its_sensitivity(tmp_path):
    a, b = world(tmp_path / "a", True), world(tmp_path / "b", False)
    bounds, bad = Bounds(), []
    for name in ("installs", "feature_users"):
        diff = {k: a[name].get(k, 0) - b[name].get(k, 0) for k in set(a[name]) | set(b[name])}
        l1 = sum(abs(v) for v in diff.values())
        used = contribution(BY_NAME[name], bounds, "week")[1]
        print(f"\nweek {name}: L1 {l1} between 'with' and 'without' the target's Tuesday "
              f"(sensitivity used for the week's noise: {used}); "
              f"moved: {sorted((k, v) for k, v in diff.items() if v)}")
        if l1 > used:
            bad.append((name, l1))
    assert not bad
