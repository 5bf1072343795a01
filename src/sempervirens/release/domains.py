"""The public key domain of each statistic of one project: built here, once.

A statistic's keys (key1, key2) are either *fixed* (public before any data is seen:
from the breakdowns' public values and the project's declaration; released always,
zero plus noise when absent from the data) or *open*: a major.minor version of a
project that declares no versions, released only through private partition selection.
Nothing else is ever released (rule 3): a key that is neither is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..model.declarations import Declaration
from ..model.domains import MAJOR_MINOR_PATTERN, OTHER, TOTAL, UNKNOWN, Breakdown
from ..model.limits import BUCKETS_PER_DOUBLING, MAX_BUCKET
from ..model.statistics import STATISTICS

_MAJOR_MINOR = re.compile(MAJOR_MINOR_PATTERN + r"\Z")

# Public timing buckets: one per doubling, named by their lower bound in microseconds
# ('1', '2', '4', ...), as the engine keys them; the i-th spans [2^i, 2^(i+1)).
PUBLIC_BUCKETS = tuple(str(2 ** b) for b in range(MAX_BUCKET // BUCKETS_PER_DOUBLING + 1))

Key = tuple[str, str]


@dataclass(frozen=True)
class Domain:
    """The keys of one statistic of one project.

    fixed: released always, in this order.
    open_key1: key1 values under which key2 may be any major.minor version, released
    only if partition selection keeps it ('' of `installs` is 'version').
    """
    fixed: tuple[Key, ...]
    open_key1: frozenset[str] = frozenset()

    @property
    def has_selection(self) -> bool:
        return bool(self.open_key1)

    def is_fixed(self, key: Key) -> bool:
        return key in self._fixed_set

    def is_open(self, key: Key) -> bool:
        return (key[0] in self.open_key1 and key not in self._fixed_set
                and _MAJOR_MINOR.match(key[1]) is not None)

    @property
    def _fixed_set(self) -> frozenset[Key]:
        cached = self.__dict__.get("_fixed_cache")
        if cached is None:
            cached = frozenset(self.fixed)
            object.__setattr__(self, "_fixed_cache", cached)
        return cached


def _version_keys(declaration: Declaration) -> tuple[str, ...]:
    """The fixed version values: declared ones (or none) plus OTHER and UNKNOWN."""
    return (*declaration.versions, OTHER, UNKNOWN)


def build_domains(breakdowns: Iterable[Breakdown], declaration: Declaration) -> dict[str, Domain]:
    """Every statistic's domain for a project with this declaration."""
    open_versions = not declaration.versions
    installs: list[Key] = [(TOTAL, TOTAL)]
    installs_open = set()
    for breakdown in breakdowns:
        if breakdown.name == "version":
            installs += [("version", v) for v in _version_keys(declaration)]
            if open_versions:
                installs_open.add("version")
        else:
            installs += [(breakdown.name, v) for v in breakdown.public_values]
    features: list[Key] = []
    timings: list[Key] = []
    for metric in declaration.metrics:
        if metric.kind == "counter":
            features.append((metric.name, ""))
        elif metric.kind == "labeled_counter":
            features += [(metric.name, label) for label in (*metric.labels, OTHER)]
        elif metric.kind == "timing":
            timings += [(metric.name, bucket) for bucket in PUBLIC_BUCKETS]
    kinds = (*declaration.crash_kinds, OTHER)
    crashes = [(kind, version) for kind in kinds for version in _version_keys(declaration)]
    crash_open = frozenset(kinds) if open_versions else frozenset()
    domains = {
        "installs": Domain(tuple(installs), frozenset(installs_open)),
        "feature_users": Domain(tuple(features)),
        "feature_events": Domain(tuple(features)),
        "timing_users": Domain(tuple(timings)),
        "crash_users": Domain(tuple(crashes), crash_open),
        "crash_events": Domain(tuple(crashes), crash_open),
        "opt_outs": Domain(((TOTAL, TOTAL),)),
    }
    assert set(domains) == {s.name for s in STATISTICS}, "a statistic without a domain"
    return domains
