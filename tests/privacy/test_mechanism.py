"""The released numbers are differentially private, measured: over many releases, the
distribution of a released count with and without one planted installation stays within
a factor e^epsilon (plus delta), and the released row set is the same with and without it
except with probability at most delta.  Each check is also run on a mechanism with too
little noise (or no threshold), to show that it would catch one.

The statistical test: for events E_t = {X >= t} and {X <= t} on a grid of t, with N
releases of each of the neighbouring inputs, it fails when
    p_hat(E) - e^eps q_hat(E) - delta > Z * SE,   SE^2 = p(1-p)/N + e^(2 eps) q(1-q)/N,
in either direction.  Z = 5.3 is one-sided 5.8e-8 per comparison; with 56
comparisons (Bonferroni) a correct mechanism fails with probability below 1e-5 (normal
approximation of binomial counts of N = 12000).
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone

import opendp.prelude as dp
import pytest
from sqlalchemy import create_engine, select

from sempervirens import settings as settings_module
from sempervirens.model.declarations import Declaration
from sempervirens.model.statistics import BY_NAME
from sempervirens.release import (
    Budget,
    bounds_from_settings,
    domains_for,
    mechanisms,
    public_releases,
    public_statistics,
    release_period,
    split,
)
from sempervirens.store.schema import telemetry
from sempervirens.release.domains import Domain
from sempervirens.release.uncertainty import laplace_sd

dp.enable_features("contrib")
N = 12_000
Z = 5.3
TRUE = 50  # the count without the planted installation


def violations(without: list[int], with_one: list[int], epsilon: float, delta: float,
               center: int = TRUE) -> list:
    """Events whose probability differs by more than e^eps (plus delta), beyond sampling error."""
    found = []
    for t in range(center - 6, center + 8):
        for name, event in ((f">= {t}", lambda x, t=t: x >= t), (f"<= {t}", lambda x, t=t: x <= t)):
            p = sum(map(event, without)) / len(without)
            q = sum(map(event, with_one)) / len(with_one)
            for a, b, direction in ((p, q, "without/with"), (q, p, "with/without")):
                se = math.sqrt(a * (1 - a) / N + math.exp(2 * epsilon) * b * (1 - b) / N)
                if a - math.exp(epsilon) * b - delta > Z * max(se, 1e-12):
                    found.append((name, direction, a, b))
    return found


def releases(statistic: str, settings: dict, count: int) -> tuple[list[int], float, float]:
    """N releases of one count, through the release's own mechanism (N keys, one call)."""
    budget = Budget.from_settings(settings)
    shares = split("day", {s: Domain(()) for s in BY_NAME}, budget)
    keys = tuple(("", str(i)) for i in range(N))
    noised = mechanisms.noise(BY_NAME[statistic], Domain(keys), {key: count for key in keys},
                              bounds_from_settings(settings), shares[statistic].epsilon, 0.0)
    return [noised.values[key] for key in keys], noised.epsilon, noised.scale


@pytest.fixture(scope="module")
def sharp():
    """A budget large enough that e^eps is measurable: opt_outs get epsilon 1 a day."""
    return settings_module.resolve(None, {}, dp_epsilon_day=28.0)


def test_one_planted_installation_changes_a_released_count_by_at_most_e_epsilon(sharp):
    without, epsilon, scale = releases("opt_outs", sharp, TRUE)
    with_one, _, _ = releases("opt_outs", sharp, TRUE + 2)  # sensitivity of opt_outs: 2
    assert epsilon == pytest.approx(1.0)
    assert violations(without, with_one, epsilon, 0.0) == []
    # the noise is there, with the published standard deviation
    mean = sum(without) / N
    sd = math.sqrt(sum((x - mean) ** 2 for x in without) / (N - 1))
    assert sd == pytest.approx(laplace_sd(scale), rel=0.05) and abs(mean - TRUE) < 0.1
    # ...and the test catches a mechanism with half the noise (epsilon twice the claim)
    half = dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64"),
                             scale=scale / 2)
    assert violations(half([TRUE] * N), half([TRUE + 2] * N), epsilon, 0.0) != []
    # ...or none at all
    assert violations([TRUE] * N, [TRUE + 2] * N, epsilon, 0.0) != []


def test_sybils_padding_a_cell_to_k_reveal_nothing_of_the_real_installation(sharp):
    """k-1 made-up installations in a rare cell (a unique OS) plus one real one: whether
    the real one is there changes the released value, and whether it is shown at all
    (>= k) or withheld ('< k'), by at most e^eps: the padding buys the attacker nothing."""
    k = sharp["k_anonymity"]
    without, epsilon, _ = releases("opt_outs", sharp, k - 1)  # the Sybils alone
    with_one, _, _ = releases("opt_outs", sharp, k)  # the Sybils and the target
    assert violations(without, with_one, epsilon, 0.0, center=k) == []
    shown_without = sum(x >= k for x in without) / N
    shown_with = sum(x >= k for x in with_one) / N
    # Discrete Laplace at the threshold is exactly e^eps apart: allow sampling error only.
    se = math.sqrt(shown_with * (1 - shown_with) / N
                   + math.exp(2 * epsilon) * shown_without * (1 - shown_without) / N)
    assert 0.2 < shown_without < shown_with < math.exp(epsilon) * shown_without + Z * se
    # Without noise, the padding works: the target alone decides whether the cell is shown.
    assert violations([k - 1] * N, [k] * N, epsilon, 0.0, center=k) != []


def test_the_default_budget_keeps_one_installation_within_e_epsilon():
    settings = settings_module.resolve(None, {})
    without, epsilon, _ = releases("installs", settings, TRUE)
    with_one, _, _ = releases("installs", settings, TRUE + 1)
    assert epsilon == pytest.approx(0.5 * 8 / 14)
    assert violations(without, with_one, epsilon, 0.0) == []


def selected(settings: dict) -> tuple[int, float]:
    """How many of N versions used by a single installation each are published."""
    budget = Budget.from_settings(settings)
    domain = Domain((("", ""),), frozenset({"version"}))
    domains = {s: domain if s == "installs" else Domain(()) for s in BY_NAME}
    share = split("day", domains, budget)["installs"]
    exact = {("", ""): 5000, **{("version", f"{i}.0"): 1 for i in range(N)}}
    noised = mechanisms.noise(BY_NAME["installs"], domain, exact,
                              bounds_from_settings(settings), share.epsilon, share.delta)
    assert ("", "") in noised.values  # the fixed key: always
    published = sum(1 for key in noised.values if key[0] == "version")
    return published, noised.delta


def test_the_row_set_depends_on_one_installation_with_probability_at_most_delta(monkeypatch):
    # The largest delta the settings allow, so that a leak would be counted in N trials.
    settings = settings_module.resolve(None, {}, dp_delta=1e-3)
    published, delta = selected(settings)
    # Without the installation none of these versions exists, so none can be published;
    # with it, each is published with probability <= delta: Poisson(N delta) bound.
    mean = N * delta
    assert published <= mean + Z * math.sqrt(mean) + 5
    # the check catches a release without the threshold (every used version published)
    monkeypatch.setattr(mechanisms, "_threshold", lambda *args: 1)
    leaked, _ = selected(settings)
    assert leaked > mean + Z * math.sqrt(mean) + 5


def test_the_released_row_set_is_the_same_with_and_without_one_installation(tmp_path):
    settings = settings_module.resolve(None, {})
    domains = domains_for({"p": Declaration()})
    start = date(2026, 1, 1)
    row_sets = {}
    for planted in (False, True):
        engine = create_engine(f"sqlite:///{tmp_path / f'{planted}.db'}")
        telemetry.create_all(engine, tables=[public_releases, public_statistics])
        sets = []
        for i in range(10):
            day = start + timedelta(days=i)
            exact = {"installs": [("p", day, "", "", 200), ("p", day, "version", "1.0", 200)]}
            if planted:  # one more installation, alone on its os, python and version
                exact["installs"] = [("p", day, "", "", 201), ("p", day, "version", "1.0", 200),
                                     ("p", day, "version", "7.3", 1),
                                     ("p", day, "os", "bsd", 1), ("p", day, "python", "3.6", 1)]
            release_period(engine, domains, "day", day, exact, settings,
                           now=datetime(2027, 1, 1, tzinfo=timezone.utc))
            with engine.connect() as connection:
                sets.append(set(connection.execute(select(
                    public_statistics.c.statistic, public_statistics.c.key1,
                    public_statistics.c.key2).where(public_statistics.c.period_start == day))))
        row_sets[planted] = sets
        engine.dispose()
    assert row_sets[False] == row_sets[True]
    assert ("installs", "os", "bsd") in row_sets[False][0]  # fixed: there even when empty
