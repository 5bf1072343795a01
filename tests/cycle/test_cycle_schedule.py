"""`serve` starts its cycles on a fixed grid of the wall clock, and each cycle's `now`
(the `released_at` of what it releases, published to the microsecond) is its grid time.

Started `aggregate_interval_seconds` after the previous cycle ended, every later
release's time carried the earlier cycles' durations, which depend on the data (a
deletion request alone adds its settle time): the published time told whether one
installation asked to be forgotten.  The cycle's duration is the one thing faked here:
a real cycle cannot be made to last exactly so long on demand."""

from __future__ import annotations

import time

from sqlalchemy import create_engine

from sempervirens.cycle import background, run


def test_each_cycles_now_is_its_grid_time_however_long_the_last_one_took(tmp_path,
                                                                        monkeypatch):
    starts = []

    def cycle(stores, settings, lock=None, now=None, **_):
        starts.append(now)
        time.sleep([0.05, 0.6, 0.2][len(starts) - 1] if len(starts) <= 3 else 0)

    class Stores:  # the cycle lock is a file beside an SQLite store
        telemetry = create_engine(f"sqlite:///{tmp_path / 'telemetry.db'}")

    monkeypatch.setattr(run, "run_cycle", cycle)
    aggregation = background.PeriodicAggregation(
        Stores(), {"aggregate_interval_seconds": 1}).start()
    deadline = time.monotonic() + 10
    while len(starts) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    aggregation.stop()
    assert len(starts) >= 4
    assert all(now is not None and now.timestamp() % 1 == 0 for now in starts), starts
    gaps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:])]
    assert all(gap >= 1 and gap == int(gap) for gap in gaps), gaps  # whole grid steps
