"""What one installation does on one day: decided from the seed alone.

The history writer (history.py) and today's real client runs (_client.py) both
read their behaviour from here, so a population's whole story is reproducible.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from .population import Installation, project, version_on


@dataclass
class ProjectRun:
    project: str
    version: str
    counters: dict[str, int] = field(default_factory=dict)
    labeled: dict[str, dict[str, int]] = field(default_factory=dict)
    timings: dict[str, list[float]] = field(default_factory=dict)  # durations, microseconds
    crash: str | None = None  # exception type, if a crash happens (and may be reported)


@dataclass
class DayPlan:
    runs: list[ProjectRun]
    opt_out: bool = False  # the user opts out of every project today (after today's runs)


def plan(installation: Installation, day: int, seed: int) -> DayPlan | None:
    """Its activity `day` days before today, or None when it does not run that day."""
    opted_out = installation.opts_out_on
    if day > installation.first_day or (opted_out is not None and day < opted_out):
        return None  # not installed yet, or opted out already
    rng = random.Random(f"{seed}:{installation.index}:{day}")
    if rng.random() >= installation.activity and day != opted_out:
        return None
    runs = []
    for name, installed in sorted(installation.projects.items()):
        p = project(name)
        # Some users upgrade: from some day on they run the latest release of that day.
        upgrade = random.Random(f"{seed}:{installation.index}:{name}:upgrade")
        upgrade_day = upgrade.randrange(installation.first_day + 1)
        version = version_on(p, day, upgrade) if day <= upgrade_day and upgrade.random() < 0.6 \
            else installed
        run = ProjectRun(name, version)
        for counter in p.counters:
            if rng.random() < 0.6:
                run.counters[counter] = 1 + int(rng.expovariate(1 / 8))
        for counter, labels in p.labeled.items():
            for label in rng.sample(labels, rng.randint(1, min(2, len(labels)))):
                run.labeled.setdefault(counter, {})[label] = 1 + int(rng.expovariate(1 / 5))
        for timing, median in p.timings.items():
            if rng.random() < 0.7:
                run.timings[timing] = [median * math.exp(rng.gauss(0, 0.6))
                                       for _ in range(rng.randint(1, 6))]
        if installation.crash_permission and rng.random() < 0.08:
            run.crash = rng.choice(p.crash_types)
        runs.append(run)
    return DayPlan(runs, opt_out=day == opted_out)
