"""The aggregation engine: exact, bounded counts of every public statistic, from the lake.

One definition of each query (DuckDB SQL generated from the catalogue, `_queries`),
run by DuckDB in-process (the default) or, transpiled by SQLGlot, by Apache Spark.
See docs/aggregation.md, "The engine".

    from sempervirens.aggregate.engine import compute
    rows = compute({t: lake.files(t, days) for t in ("pings", "counters", "timings")},
                   "week", [monday], declared, bounds)
    rows["installs"]  # [(project, period_start, breakdown, value, n), ...]
"""

from __future__ import annotations

from ._compute import ENGINES, compute, open_runner, open_runner_from_settings
from ._queries import Query, queries
from ._tables import period_days
from .errors import EngineError

__all__ = ["ENGINES", "EngineError", "Query", "compute", "open_runner",
           "open_runner_from_settings", "period_days", "queries"]
