"""Aggregation: the engine (on DuckDB or Spark: exact, bounded counts of the public
statistics from the lake, and the private institution aggregates from the IP-free
origins the private store gives it), anomaly detection and the retention purge.  The
cycle that calls them is `sempervirens.cycle`; see docs/aggregation.md.  This package
imports nothing at import time.
"""
