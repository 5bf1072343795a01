"""The released statistics and the ledger of releases, on the telemetry store.

`public_statistics` holds every published number, one row per (release, statistic,
key); rows are inserted once and never updated or deleted (a correction is a new
release with a higher version).  `public_releases` is the budget ledger: one row per
release of (project, interval, period, version), with the epsilon and delta it spent.
Migrations are Alembic revisions (store/); these definitions are today's shape.
"""

from __future__ import annotations

import math

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Table,
    UniqueConstraint,
)

from ..model.periods import INTERVALS
from ..model.statistics import STATISTICS
from ..store.schema import Json, String, Text, telemetry

# Derived from a timing's released histogram (post-processing): key2 'p50', 'p90', 'p99',
# value the index i of the public bucket [2^i, 2^(i+1)) microseconds.
PERCENTILE_STATISTIC = "timing_percentile"
STATISTIC_NAMES = (*(s.name for s in STATISTICS), PERCENTILE_STATISTIC)
KEY_LENGTH = 200


def _one_of(column: str, values) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f'"{column}" IN ({listed})')  # quoted: "interval" is a keyword


public_releases = Table(
    "public_releases", telemetry,
    Column("release_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("project", String(100), nullable=False),
    Column("interval", String(5), _one_of("interval", INTERVALS), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("version", Integer, nullable=False),  # 1; a correction is 2, 3, ...
    Column("released_at", DateTime(timezone=True), nullable=False),
    Column("epsilon", Float, nullable=False),  # composed by OpenDP over the statistics
    Column("delta", Float, nullable=False),
    Column("mechanism", Text(), nullable=False),  # in words, with scales and thresholds
    Column("bounds", Json, nullable=False),  # the contribution bounds in force
    Column("statistics", Json, nullable=False),  # {statistic: {epsilon, delta, scale, ...}}
    Column("correction_of", BigInteger().with_variant(Integer, "sqlite"),
           ForeignKey("public_releases.release_id")),
    UniqueConstraint("project", "interval", "period_start", "version",
                     name="public_releases_once"),
)

public_statistics = Table(
    "public_statistics", telemetry,
    Column("release_id", BigInteger().with_variant(Integer, "sqlite"),
           ForeignKey("public_releases.release_id"), nullable=False),
    Column("project", String(100), nullable=False),
    Column("interval", String(5), _one_of("interval", INTERVALS), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("statistic", String(32), _one_of("statistic", STATISTIC_NAMES), nullable=False),
    Column("key1", String(KEY_LENGTH), nullable=False),
    Column("key2", String(KEY_LENGTH), nullable=False),
    Column("value", BigInteger),  # NULL: the noisy value is below k (shown "< k")
    Column("noise_sd", Float),  # standard deviation of the noise in `value`
    Column("low", BigInteger),  # 95% interval of the true count
    Column("high", BigInteger),
    # The noisy count even when below k: a DP output, kept so that a week's or a month's
    # sum of days can be computed; never served (serve `value`).
    Column("noisy", BigInteger),
    UniqueConstraint("release_id", "statistic", "key1", "key2", name="public_statistics_key"),
    Index("public_statistics_lookup", "project", "interval", "period_start", "statistic"),
)



def servable():
    """The ledger's releases that may be served: those made with differential privacy.
    One made under no_dp (exact counts for a private deployment) has an infinite epsilon
    and is never served, whatever the settings of the server that reads the store (a
    later `serve` without --no-dp published its exact counts)."""
    return public_releases.c.epsilon < math.inf


__all__ = ["public_releases", "public_statistics", "servable", "PERCENTILE_STATISTIC",
           "STATISTIC_NAMES"]
