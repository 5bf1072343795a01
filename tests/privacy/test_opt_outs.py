"""`opt_outs` is released with sensitivity 2 a day: the client queues one opt-out ping
a project a UTC day (client/_actions.py), but the server counts a ping on the day it
*arrives*; so at most one waits in the spool (offline, the server down, a host that
exits before uploading), and a server day receives at most that one and the day's."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sempervirens.client import _actions
from sempervirens.client._spool import Spool

PROJECT = "demo"
CURRENT = {"endpoint": "https://telemetry.example/", "version": "1.0", "mode": "opt-out"}


def test_one_opt_out_ping_of_a_project_waits_in_the_spool(tmp_path, monkeypatch):
    days = [date(2026, 10, d) for d in (1, 2, 3, 4, 5)]
    for day in days:
        class Frozen(datetime):
            @classmethod
            def now(cls, tz=None):
                return datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc)
        monkeypatch.setattr(_actions, "datetime", Frozen)
        # The user opts out, changes their mind, opts out again the next day...
        assert _actions.opt_out(str(tmp_path), PROJECT, current=CURRENT) == [PROJECT]
        _actions.opt_in(str(tmp_path), PROJECT)
    pending = [e for e in Spool(str(tmp_path)).entries() if e.ping_type == "opt-out"]
    print(f"\nopt-out pings of one installation waiting to be sent together: {len(pending)} "
          f"(they arrive on one server day; the release assumed 1)")
    assert len(pending) <= 1
