"""one adversarial installation against the release's sensitivity table.

Two worlds differ by one heavy installation (many cells, labels, timings, crash kinds and
versions, changing platform every ping, pings on every day of a week); run through the
real cycle with no_dp (released numbers = exact bounded counts).  For every release, the
L1 distance between the worlds' key vectors of each statistic must be at most the
sensitivity the release noises it for (`release/mechanisms.py`, `contribution`), and the
number of keys touched at most its l0.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, timedelta, timezone

from population import Ping, insert
from worlds import declared, exact_release

from sempervirens.model.statistics import BY_NAME, Bounds
from sempervirens.release.mechanisms import contribution

START = date(2026, 10, 5)  # a Monday
NOW = datetime(2026, 11, 2, 6, tzinfo=timezone.utc)
DECL = "\n".join(
    [f'crash_kinds = [{", ".join(repr("K%d" % i) for i in range(6))}]'.replace("'", '"')]
    + [f'[metrics."c{i}"]\nkind = "counter"\ndescription = "x"' for i in range(15)]
    + ['[metrics."lab"]\nkind = "labeled_counter"\ndescription = "x"\nlabels = ["a", "b", "c"]']
    + [f'[metrics."t{i}"]\nkind = "timing"\ndescription = "x"' for i in range(12)])
TARGET = "0b9c7f0e-5b1a-4c47-9a55-6f1f2c3d4e5f"
OSES = ["Linux", "Darwin", "Windows", "FreeBSD"]
ARCHES = ["x86_64", "arm64", "riscv64"]
PYS = ["3.9.1", "3.10.2", "3.11.7", "3.12.0", "3.13.1"]


def heavy(day: date, i: int) -> list[Ping]:
    metrics = {"counters": {f"c{j}": 10**6 for j in range(15)},
               "labeled_counters": {"lab": {"a": 99, "b": 99, "c": 99, "zz": 99}},
               "timings": {f"t{j}": {"count": 3, "sum_us": 9, "buckets": {str(4 * j + i): 3}}
                           for j in range(12)}}
    pings = [Ping("demo", TARGET, day, version=f"{i}.{j}", os=OSES[(i + j) % 4],
                  arch=ARCHES[j % 3], python=PYS[(i + j) % 5], ci=bool(j % 2), metrics=metrics,
                  hour=j) for j in range(6)]
    pings += [Ping("demo", TARGET, day, ping_type="crash", metrics=None, crash_type=f"K{k}",
                   version=f"{i}.{v}") for k in range(6) for v in range(4) for _ in range(7)]
    pings += [Ping("demo", None, day, ping_type="opt-out")]  # the client's one a day
    return pings


def world(root, target: bool) -> dict:
    rng = random.Random(3)
    stores = declared(root, DECL)
    pings = []
    for d in range(31):
        day = date(2026, 10, 1) + timedelta(days=d)
        for c in range(30):
            pings.append(Ping("demo", str(uuid.UUID(int=c + 1, version=4)), day,
                              version=rng.choice(["1.0", "1.1"])))
        if target and START <= day < START + timedelta(days=7):
            pings += heavy(day, d)
    insert(stores, pings)
    return exact_release(stores, root, NOW)


def test_sensitivities(tmp_path):
    a, b = world(tmp_path / "a", True), world(tmp_path / "b", False)
    bounds = Bounds()
    worst = {}
    for release in set(a) | set(b):
        if release[2] == "timing_percentile":  # derived from timing_users: no count
            continue
        va, vb = a.get(release, {}), b.get(release, {})
        diff = {k: abs(va.get(k, 0) - vb.get(k, 0)) for k in set(va) | set(vb)}
        l1, l0 = sum(diff.values()), sum(1 for v in diff.values() if v)
        interval, _, name = release
        if not BY_NAME[name].summed or interval == "day":
            key = (interval, name)
            worst[key] = max(worst.get(key, (0, 0)), (l1, l0))
    bad = []
    for (interval, name), (l1, l0) in sorted(worst.items()):
        used_l0, used_l1, _ = contribution(BY_NAME[name], bounds, interval)
        print(f"{interval:5} {name:15} L1 {l1:5} (sensitivity {used_l1:4}), "
              f"keys {l0:3} (l0 {used_l0})")
        if l1 > used_l1 or l0 > used_l0:
            bad.append((interval, name, l1, l0))
    assert not bad
