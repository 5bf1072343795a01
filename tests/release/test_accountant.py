"""The guarantee one installation gets over a day, a month and a year, from the ledger."""

from __future__ import annotations

import pytest
from release_helpers import LATER, MONDAY, release_days

from sempervirens.release import compose, guarantee, release_period


def test_with_no_release_yet_the_configured_guarantee(engine, settings):
    answer = guarantee(engine, settings)
    assert answer["day"] == answer["month"] == answer["year"] == (0.0, 0.0)
    day, month, year = (answer["configured"][k] for k in ("day", "month", "year"))
    assert day == pytest.approx((1.0, 1e-7))
    # a 31-day month touches 6 ISO weeks; a leap year from a Sunday touches 54
    assert month == pytest.approx((31 * 0.5 + 6 * 0.25 + 0.25, 1.725e-6))
    assert year == pytest.approx((366 * 0.5 + 54 * 0.25 + 12 * 0.25, 1.995e-5))
    stricter = guarantee(engine, {**settings, "dp_epsilon_day": 0.1})["configured"]["day"]
    assert stricter == pytest.approx((0.6, 1e-7))


def test_the_ledger_composes_day_week_month_and_corrections(engine, domains, settings):
    release_days(engine, domains, settings, MONDAY, 7)
    answer = guarantee(engine, settings, project="numpy")
    assert answer["day"][0] == pytest.approx(0.5, abs=1e-6)
    assert answer["month"][0] == pytest.approx(3.5, abs=1e-6)
    release_period(engine, domains, "week", MONDAY, {}, settings, now=LATER)
    assert guarantee(engine, settings, "numpy")["day"][0] == pytest.approx(0.75, abs=1e-6)
    release_period(engine, domains, "day", MONDAY, {}, settings, now=LATER, correction=True)
    answer = guarantee(engine, settings, "numpy")
    assert answer["day"][0] == pytest.approx(1.25, abs=1e-6)  # the corrected day spent twice
    assert answer["month"][0] == pytest.approx(4.25, abs=1e-6)
    assert 0 < answer["day"][1] <= 2 * 0.5e-7 + 0.25e-7
    # scipy declares its versions and no metric: no delta, and what it does not release
    # (features, timings) it does not spend: 10 of 14 weights a day, 9 of 12 a week
    scipy = guarantee(engine, settings, "scipy")
    assert scipy["day"] == pytest.approx((2 * 0.5 * 10 / 14 + 0.25 * 9 / 12, 0.0), abs=1e-6)
    # without a project: both projects' releases together (one installation id is
    # shared by every project of a machine)
    both = guarantee(engine, settings)
    assert both["day"][0] == pytest.approx(answer["day"][0] + scipy["day"][0], abs=1e-6)
    # with these settings: one project's calendar, and both projects' composed
    assert both["projects"] == 2
    for kind in ("day", "month", "year"):
        one = both["per_project"][kind]
        assert one == guarantee(engine, settings, "numpy")["configured"][kind]
        assert both["configured"][kind] == pytest.approx(compose([one, one]))


def test_composition_is_the_librarys():
    assert compose([(0.5, 1e-8), (0.25, 2e-8)]) == pytest.approx((0.75, 3e-8))
    assert compose([]) == (0.0, 0.0)
