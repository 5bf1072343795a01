"""The aggregation engine: exact, bounded counts of every public statistic, from the lake,
and the private aggregates, from the origins the private store gives it.

One definition of each query (DuckDB SQL: `_queries` generated from the catalogue,
`_private_queries`), run by DuckDB in-process (the default) or, transpiled by SQLGlot,
by Apache Spark.  See docs/aggregation.md, "The engine".

    from sempervirens.aggregate.engine import compute
    rows = compute({t: lake.files(t, days) for t in ("pings", "counters", "timings")},
                   "week", [monday], declared, bounds)
    rows["installs"]  # [(project, period_start, breakdown, value, n), ...]
    private = compute_private(origins, "week", [monday])
"""

from __future__ import annotations

from ._compute import (ENGINES, check_engine, compute, compute_private, open_runner,
                       open_runner_from_settings)
from ._queries import Query, queries
from ._tables import period_days
from .errors import EngineError

__all__ = ["ENGINES", "EngineError", "check_engine", "Query", "compute", "compute_private",
           "open_runner", "open_runner_from_settings", "period_days", "queries"]
