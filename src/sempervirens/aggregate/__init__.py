"""Aggregation: the engine (exact, bounded counts of the public statistics from the lake,
on DuckDB or Spark), the private institution aggregates, anomaly detection and the
retention purge.  The cycle that calls them is `sempervirens.cycle`; see
docs/aggregation.md.  This package imports nothing at import time.
"""
