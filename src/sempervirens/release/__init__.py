"""Release: differentially private publication of the engine's exact counts.

Data flow: aggregate/ computes exact bounded counts per (project, period, key);
release/ noises them with OpenDP once per closed period, writes `public_statistics`
and the budget ledger `public_releases`, and the dataset files; public/ serves them.
See docs/release.md.

- `domains`: each statistic's public keys for a project (fixed, or open to selection);
- `budget`: the epsilon/delta of each interval and statistic;
- `mechanisms`: OpenDP measurements per statistic;
- `uncertainty`, `percentiles`: how exact each number is; timing percentiles;
- `tables`, `ledger`: the released rows and the ledger;
- `publish`: `release_period`, once per period;
- `accountant`: the composed guarantee per installation;
- `datasets`: the immutable files;
- `parameters`: the settings in force, in words.
"""

from .accountant import compose, guarantee
from .budget import Budget, Share, bounds_from_settings, split
from .datasets import write_release
from .domains import Domain, build_domains
from .parameters import parameters
from .errors import (AlreadyReleased, DatasetExists, NotClosed, NothingToCorrect,
                     PublishedUnrecorded, ReleaseError)
from .publish import Release, domains_for, ready_at, release_period, serving_allowed
from .tables import public_releases, public_statistics

__all__ = [
    "AlreadyReleased",
    "Budget",
    "DatasetExists",
    "Domain",
    "NotClosed",
    "NothingToCorrect",
    "PublishedUnrecorded",
    "Release",
    "ReleaseError",
    "Share",
    "bounds_from_settings",
    "build_domains",
    "compose",
    "domains_for",
    "guarantee",
    "parameters",
    "public_releases",
    "public_statistics",
    "ready_at",
    "release_period",
    "serving_allowed",
    "split",
    "write_release",
]
