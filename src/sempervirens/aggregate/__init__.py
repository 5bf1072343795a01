"""Aggregation: public rollups with suppression (and optional differential privacy),
private institution aggregates, anomaly detection and the retention purge.

Everything heavy runs as SQL inside the stores; see docs/aggregation.md.  The
cycle is `sempervirens.aggregate.run.run_cycle`; the tables are in `.tables`.
This package imports nothing at import time, so the store's migrations can import
`.tables` without pulling in the rest.
"""
