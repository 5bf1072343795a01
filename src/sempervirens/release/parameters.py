"""The privacy parameters in force, in words, for /privacy and /api/v1/parameters."""

from __future__ import annotations

from collections.abc import Mapping

from ..model.periods import INTERVALS
from ..model.statistics import Bounds

_BOUNDS = {
    "max_features": "declared counters (and labels) one installation counts in, per period",
    "max_events_per_day": "events one installation adds to a counter, per day",
    "max_timings": "declared timings one installation counts in, per period",
    "max_crash_cells": "(crash kind, version) cells one installation counts in, per period",
    "max_crashes_per_day": "crash reports one installation adds to a cell, per day",
}


def parameters(settings: Mapping) -> list[dict]:
    """[{name, value, description}] of every setting the releases are made with."""
    rows = [
        {"name": f"epsilon_{interval}", "value": settings[f"dp_epsilon_{interval}"],
         "description": f"privacy loss (ε) of each {interval}'s release of a project"}
        for interval in INTERVALS]
    rows += [
        {"name": "delta", "value": settings["dp_delta"],
         "description": "δ per day of one installation's data (spent only where versions "
                        "are chosen by private partition selection)"},
        {"name": "k", "value": settings["k_anonymity"],
         "description": "a released value below k is shown as '< k', with its interval"},
        {"name": "release_grace_hours", "value": settings["release_grace_hours"],
         "description": "hours after a day ends before it is released, once"},
        {"name": "retention_days", "value": settings["retention_days"],
         "description": "days raw IP addresses are kept, then deleted"},
    ]
    rows += [{"name": f"bound_{name}", "value": settings[f"bound_{name}"],
              "description": f"contribution bound: {text}"}
             for name, text in _BOUNDS.items() if name in Bounds.__dataclass_fields__]
    return rows
