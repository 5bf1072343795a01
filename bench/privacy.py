"""Accuracy of the differentially private release at the default budget.

    .venv/bin/python bench/privacy.py [--projects 60] [--days 7] [--seed 1]

On synthetic exact counts shaped like a realistic population of scientific Python
projects (daily active installations log-uniform from 30 to 300 000; Linux-heavy
operating systems, a few Python versions, most runs outside CI, a few versions per
project, feature and timing usage among a share of installations), it noises each
project-day with the release's own mechanisms (OpenDP) and prints, per statistic, the
median relative error |noisy - exact| / exact of:

- active installations per project-day (the total), target <= 5%;
- breakdown cells and other cells with at least 100 installations (or events);

and the budget per installation per day, month and year (the accountant's figures).
The population is synthetic (Python's `random`, seeded); the noise is OpenDP's.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sempervirens import settings as settings_module  # noqa: E402
from sempervirens.model.declarations import Declaration, Metric  # noqa: E402
from sempervirens.model.domains import BREAKDOWNS, OTHER, UNKNOWN  # noqa: E402
from sempervirens.model.statistics import STATISTICS  # noqa: E402
from sempervirens.release import Budget, bounds_from_settings, build_domains, split  # noqa: E402
from sempervirens.release.accountant import _full_calendar  # noqa: E402
from sempervirens.release.mechanisms import contribution, noise  # noqa: E402

SHARES = {
    "os": {"linux": 0.62, "macos": 0.2, "windows": 0.16, "bsd": 0.005, OTHER: 0.005,
           UNKNOWN: 0.01},
    "arch": {"x86_64": 0.82, "arm64": 0.16, OTHER: 0.01, UNKNOWN: 0.01},
    "python": {"3.10": 0.15, "3.11": 0.3, "3.12": 0.35, "3.13": 0.15, "3.9": 0.04,
               UNKNOWN: 0.01},
    "ci": {"true": 0.3, "false": 0.69, UNKNOWN: 0.01},
}


def split_count(rng: random.Random, n: int, shares: dict[str, float]) -> dict[str, int]:
    """n installations spread over values in these proportions (multinomial-ish)."""
    counts = {value: int(n * share * rng.uniform(0.9, 1.1)) for value, share in shares.items()}
    return counts


def project(rng: random.Random, name: str, day, n: int):
    declaration = Declaration(
        (Metric("io.read", "counter", "reads"),
         Metric("io.format", "labeled_counter", "formats", labels=("csv", "parquet", "hdf5")),
         Metric("solve", "timing", "solver time")),
        versions=("1.0", "1.1", "2.0"), crash_kinds=("ValueError",))
    exact: dict[str, dict] = defaultdict(dict)
    exact["installs"]["", ""] = n
    for breakdown, shares in SHARES.items():
        for value, count in split_count(rng, n, shares).items():
            exact["installs"][breakdown, value] = count
    for value, count in split_count(rng, n, {"2.0": 0.6, "1.1": 0.3, "1.0": 0.09,
                                             OTHER: 0.01}).items():
        exact["installs"]["version", value] = count
    users = int(n * 0.4)
    exact["feature_users"]["io.read", ""] = users
    exact["feature_events"]["io.read", ""] = users * 4
    for label, count in split_count(rng, int(n * 0.3), {"csv": 0.7, "parquet": 0.25,
                                                         "hdf5": 0.05}).items():
        exact["feature_users"]["io.format", label] = count
        exact["feature_events"]["io.format", label] = count * 3
    timers = int(n * 0.2)
    for bucket, share in ((14, 0.1), (15, 0.3), (16, 0.4), (17, 0.15), (18, 0.05)):
        exact["timing_users"]["solve", str(bucket)] = int(timers * share)
    exact["crash_users"]["ValueError", "2.0"] = int(n * 0.01)
    exact["crash_events"]["ValueError", "2.0"] = int(n * 0.015)
    exact["opt_outs"]["", ""] = int(n * 0.02)
    return declaration, exact


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=60)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    settings = settings_module.resolve(None, {})
    budget, bounds = Budget.from_settings(settings), bounds_from_settings(settings)
    rng = random.Random(args.seed)
    sizes = [int(math.exp(rng.uniform(math.log(30), math.log(300_000))))
             for _ in range(args.projects)]
    errors: dict[str, list[float]] = defaultdict(list)
    for p, size in enumerate(sizes):
        for day in range(args.days):
            n = int(size * rng.uniform(0.85, 1.15))
            declaration, exact = project(rng, f"p{p}", day, n)
            domains = build_domains(BREAKDOWNS, declaration)
            shares = split("day", domains, budget)
            for statistic in STATISTICS:
                share = shares[statistic.name]
                noised = noise(statistic, domains[statistic.name], exact[statistic.name],
                               bounds, share.epsilon, share.delta)
                for key, value in noised.values.items():
                    true = exact[statistic.name].get(key, 0)
                    if statistic.name == "installs" and key == ("", ""):
                        errors["installs (total per project-day)"].append(abs(value - true) / true)
                    elif true >= 100:
                        errors[f"{statistic.name} (cells >= 100)"].append(abs(value - true) / true)
    print(f"{args.projects} projects x {args.days} days, daily active installations "
          f"{min(sizes)}..{max(sizes)} (median {int(statistics.median(sizes))}); "
          f"default budget: epsilon {budget.epsilon}, delta per day {settings['dp_delta']}")
    print(f"{'statistic':<40} {'cells':>7} {'median rel. error':>18} {'p90':>8}  scale")
    for statistic in STATISTICS:
        for name, values in sorted(errors.items()):
            if name.split(" ")[0] != statistic.name:
                continue
            values.sort()
            share = split("day", build_domains(BREAKDOWNS, Declaration()), budget)[statistic.name]
            sensitivity = contribution(statistic, bounds, "day")[1]
            print(f"{name:<40} {len(values):>7} {statistics.median(values):>17.2%} "
                  f"{values[int(0.9 * (len(values) - 1))]:>8.1%}  "
                  f"{sensitivity / share.epsilon:.0f}")
    for kind in ("day", "month", "year"):
        epsilon, delta = _full_calendar(budget, kind)
        print(f"budget per installation per {kind:<5}: epsilon {epsilon:.4g}, delta {delta:.3g}")


if __name__ == "__main__":
    main()
