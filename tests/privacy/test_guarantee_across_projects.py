"""One installation id is shared by every project on a machine
(client/_identity.py), so one installation-day is in every project's day, week and month
release; /api/v1/privacy/budget (release.guarantee with project=None) states what those
releases compose to, not the largest single project's loss."""

from __future__ import annotations

import os
import sys
from datetime import timedelta

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "release"))
from release_helpers import LATER, MONDAY, release_days  # noqa: E402

from sempervirens import settings as settings_module  # noqa: E402
from sempervirens.client import _identity  # noqa: E402
from sempervirens.release import domains_for, guarantee, release_period  # noqa: E402
from sempervirens.release.accountant import compose  # noqa: E402
from sempervirens.release.ledger import releases  # noqa: E402
from sempervirens.model.periods import period_end  # noqa: E402
from release_helpers import NUMPY, SCIPY  # noqa: E402


def make_engine(url):
    from sqlalchemy import create_engine
    from sempervirens.release import public_releases, public_statistics
    from sempervirens.store.schema import telemetry
    engine = create_engine(url)
    telemetry.create_all(engine, tables=[public_releases, public_statistics])
    return engine


def test_one_installation_id_for_every_project(tmp_path):
    # What Telemetry("numpy") and Telemetry("scipy") on one machine both call.
    assert _identity.get_or_create(str(tmp_path)) == _identity.get_or_create(str(tmp_path))


def test_the_stated_guarantee_covers_an_installation_in_two_projects(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 't.db'}")
    settings = settings_module.resolve(None, {})
    domains = domains_for({"numpy": NUMPY, "scipy": SCIPY})
    release_days(engine, domains, settings, MONDAY, 7)
    release_period(engine, domains, "week", MONDAY, {}, settings, now=LATER)
    stated = guarantee(engine, settings)["day"]
    with engine.connect() as c:
        ledger = releases(c)
    day = MONDAY + timedelta(days=2)
    touching = [(r["epsilon"], r["delta"]) for r in ledger
                if r["period_start"] <= day < period_end(r["interval"], r["period_start"])]
    actual = compose(touching)  # both projects' day and week releases of that day
    print(f"\n/api/v1/privacy/budget day: eps={stated[0]:.3f}; releases holding one "
          f"installation-day of a numpy+scipy user: eps={actual[0]:.3f}, delta={actual[1]:.2g}")
    assert stated[0] >= actual[0] - 1e-9
