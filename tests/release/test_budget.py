"""The budget: per interval from the settings, per statistic by weight; delta only where
partition selection needs it."""

from __future__ import annotations

import math

import pytest
from release_helpers import NUMPY, SCIPY

from sempervirens import settings as settings_module
from sempervirens.model.domains import BREAKDOWNS
from sempervirens.model.statistics import BY_NAME, Bounds
from sempervirens.release import Budget, bounds_from_settings, build_domains, split


def test_defaults_are_no_weaker_than_wikimedia_per_installation_day(settings):
    budget = Budget.from_settings(settings)
    epsilon, delta = budget.per_installation_day
    assert math.isclose(epsilon, 1.0) and math.isclose(delta, 1e-7)
    assert budget.epsilon == {"day": 0.5, "week": 0.25, "month": 0.25}
    assert math.isclose(budget.delta["day"], 0.5e-7)


def test_split_by_weight_over_the_statistics_of_each_interval(settings):
    budget = Budget.from_settings(settings)
    domains = build_domains(BREAKDOWNS, NUMPY)
    day = split("day", domains, budget)
    assert set(day) == set(BY_NAME)
    assert math.isclose(sum(s.epsilon for s in day.values()), 0.5)
    assert math.isclose(day["installs"].epsilon / day["feature_users"].epsilon, 8 / 2)
    week = split("week", domains, budget)
    assert "feature_events" not in week and "crash_events" not in week and "opt_outs" not in week
    assert math.isclose(sum(s.epsilon for s in week.values()), 0.25)
    # installs 8, feature_users 2, timing_users 1, crash_users 1
    assert math.isclose(week["installs"].epsilon, 0.25 * 8 / 12)
    # delta: only installs and the crash statistics select versions
    assert math.isclose(sum(s.delta for s in day.values()), budget.delta["day"])
    assert day["feature_users"].delta == day["opt_outs"].delta == 0
    assert math.isclose(day["installs"].delta, budget.delta["day"] * 8 / 9.5)


def test_a_project_declaring_its_versions_spends_no_delta(settings):
    budget = Budget.from_settings(settings)
    shares = split("day", build_domains(BREAKDOWNS, SCIPY), budget)
    assert all(s.delta == 0 for s in shares.values())


def test_bounds_and_budget_come_from_the_settings():
    values = settings_module.resolve(None, {"SEMPERVIRENS_BOUND_MAX_FEATURES": "4",
                                            "SEMPERVIRENS_DP_EPSILON_DAY": "2"})
    assert bounds_from_settings(values) == Bounds(max_features=4)
    assert bounds_from_settings(settings_module.resolve(None, {})) == Bounds()
    assert Budget.from_settings(values).epsilon["day"] == 2.0


@pytest.mark.parametrize("name, value, message", [
    ("dp_epsilon_week", 0.0, "dp_epsilon_week must be a positive, finite number"),
    ("dp_epsilon_day", float("inf"), "dp_epsilon_day must be a positive, finite number"),
    ("dp_epsilon_month", float("nan"), "dp_epsilon_month must be a positive, finite number"),
    ("dp_delta", 0.5, "dp_delta must be between 0 and 0.001"),
    ("bound_max_timings", 0, "bound_max_timings must be from 1 to 1000000"),
    ("bound_max_events_per_day", 10**30, "bound_max_events_per_day must be from 1 to 1000000"),
    ("k_anonymity", 10**20, "k_anonymity must be from 1 to 1000000"),
    ("release_grace_hours", -1.0, "release_grace_hours must be from 0 to 8784 hours"),
    ("release_grace_hours", float("inf"), "release_grace_hours must be from 0 to 8784 hours"),
])
def test_settings_that_break_the_promise_are_refused_in_one_line(name, value, message):
    with pytest.raises(SystemExit, match=message) as refused:
        settings_module.validate(settings_module.resolve(None, {}, **{name: value}))
    assert "\n" not in str(refused.value)


def test_no_dp_is_a_boolean_setting_that_forbids_public_serving():
    from sempervirens.release import serving_allowed

    assert serving_allowed(settings_module.resolve(None, {}))
    assert not serving_allowed(settings_module.resolve(None, {"SEMPERVIRENS_NO_DP": "true"}))
