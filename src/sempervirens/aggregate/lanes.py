"""The independent parts of a public aggregation, run side by side.

A run's parts (lanes) share nothing but the per-day base tables read from the
pings (public.base_lanes): first the day's clients, then its cells beside the
30-day bitmaps (which need only the clients), then the days' rows, the weeks
and the months are published.  On PostgreSQL
each lane has a thread and a connection of its own, so that a run uses every
core; the base tables are then unlogged tables, committed before the next stage
starts so that every connection sees them.  On SQLite, which writes one
transaction at a time, the lanes run one after the other on one connection, and
the base tables are temporary ones.

Each lane commits its own transactions, each holding whole periods.  That is
safe because the days are recorded as aggregated only after every lane
succeeded (run.aggregate_public): a day that a lane failed on stays to be done,
and the next run rebuilds the weeks and months that had merged it already
(rollups.plan) and recomputes its rows.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import Engine

from ._sql import Dialect
from .public import Lane, begin, create_base, drop_base


def run(engine: Engine, d: Dialect, stages: list[list[Lane]]) -> None:
    """The lanes of each stage side by side, stage after stage (the first ones build
    the base tables); then the base tables are dropped, whatever happened.  A
    failure is raised once the lanes running with it have ended."""
    with engine.connect() as connection:
        try:
            with begin(connection, d):
                drop_base(connection)  # (a crash's)
                create_base(connection, d)
            if d.pg:
                with ThreadPoolExecutor(thread_name_prefix="aggregate") as pool:
                    for lanes in stages:
                        _wait([pool.submit(_on_own_connection, engine, lane) for lane in lanes])
            else:
                for lane in (lane for lanes in stages for lane in lanes):
                    lane(connection)
        finally:
            with begin(connection, d):
                drop_base(connection)


def _wait(futures: list[Future]) -> None:
    for future in futures:
        future.result()


def _on_own_connection(engine: Engine, lane: Lane) -> None:
    with engine.connect() as connection:
        lane(connection)
