"""The cycle: from new pings to released statistics, each step in its layer.

`sempervirens aggregate` runs it once; `serve` runs it every
`aggregate_interval_seconds` in a thread of its own (background.py).  It sits at the
top of the package graph: it calls the lake (store), the engine and the private
aggregates (aggregate), the release (release) and the deletions (admin).
"""
