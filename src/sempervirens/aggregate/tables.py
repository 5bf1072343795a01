"""Tables of the aggregation layer, on the two stores' MetaData.

The public statistics are the release's (release/tables.py).  Here: the private store's
enrichment results, anomalies and institution aggregates, which hold counts per
project, period and institution, never an address or a client UUID (except the
address beside an anomaly's hash until the retention purge).
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    PrimaryKeyConstraint,
    Table,
)

from ..model.periods import INTERVALS
from ..model.private import PRIVATE_TABLES, PrivateTable
from ..store.schema import String, private

__all__ = ["INTERVALS"]


def _period() -> list[Column]:
    return [
        Column("project", String(100), nullable=False, comment="project name (PEP 503)"),
        Column("interval", String(5), nullable=False, comment="'day', 'week' (ISO, Monday) or 'month'"),
        Column("period_start", Date, nullable=False, comment="first UTC day of the period"),
    ]


# -- private store ----------------------------------------------------------------

ip_origins = Table(
    "ip_origins", private,
    Column("ip", String(45), primary_key=True),
    Column("hostname", String(255)),
    Column("domain", String(255)),
    Column("institution", String(255)),
    Column("kind", String(10), nullable=False),  # academic / other / unknown
    Column("enriched_at", DateTime(timezone=True), nullable=False),
)

anomalies = Table(
    "anomalies", private,
    Column("project", String(100), nullable=False),
    Column("day", Date, nullable=False),  # the window: one UTC day
    Column("ip_hash", String(64), nullable=False),  # HMAC-SHA256 of the IP, hex
    Column("ip", String(45)),  # kept only for the retention period, then NULL
    Column("clients", BigInteger, nullable=False),
    Column("pings", BigInteger, nullable=False),
    Column("detected_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("project", "day", "ip_hash"),
)

def _private_aggregate(table: PrivateTable) -> Table:
    keys = [name for name, _ in table.keys]
    return Table(
        table.name, private, *_period(),
        *(Column(name, String(length), nullable=False) for name, length in table.keys),
        *(Column(name, BigInteger, nullable=False) for name in table.counts),
        PrimaryKeyConstraint("project", "interval", "period_start", *keys))


# Declared in the catalogue (model/private.py).
private_institution_users, private_origin_summary = map(_private_aggregate, PRIVATE_TABLES)

private_aggregated_days = Table(
    "aggregate_private_days", private,
    Column("day", Date, primary_key=True),
    Column("rows", BigInteger, nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("aggregated_at", DateTime(timezone=True), nullable=False),
)

secrets = Table(
    "aggregate_secrets", private,
    Column("name", String(64), primary_key=True),
    Column("value", String(128), nullable=False),  # hex
)

PRIVATE_TABLES = (ip_origins, anomalies, private_institution_users, private_origin_summary,
                  private_aggregated_days, secrets)
