"""Tables of the two stores.

The privacy boundary is drawn here: `telemetry` holds what clients report and
never an IP address; `private` holds the web log that ties an IP to a client, and
nothing else reads or writes it but the writer, enrichment and retention.
"""

import sqlalchemy
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Table,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine

from ..model.notices import NOTICE_KINDS
from ..model.ping import (
    COLUMN_BOOL,
    COLUMN_INT32,
    COLUMN_INT64,
    COLUMN_JSON,
    COLUMN_STRING,
    COLUMN_TIMESTAMP,
    TEXT,
    PingField,
    stored,
)

# JSON columns are JSONB on PostgreSQL (indexable, compact) and JSON text on SQLite.
Json = JSON().with_variant(JSONB(), "postgresql")


# Every string column of both stores is compared byte by byte (collation "C") on
# PostgreSQL, as SQLite's are: a database's own collation (C.UTF-8, en_US.UTF-8)
# calls the C library per comparison and sorts without abbreviated keys, several
# times slower on the client ids that aggregation sorts, joins and looks up.
def String(length: int | None = None) -> TypeEngine:
    return sqlalchemy.String(length).with_variant(
        sqlalchemy.String(length, collation="C"), "postgresql")


def Text() -> TypeEngine:
    return sqlalchemy.Text().with_variant(sqlalchemy.Text(collation="C"), "postgresql")


UUID_LENGTH = 36

telemetry = MetaData()
private = MetaData()

def _column(f: PingField) -> Column:
    """A ping field's column, as the catalogue types it (model/ping.py)."""
    kind = {COLUMN_INT32: Integer, COLUMN_INT64: BigInteger, COLUMN_BOOL: Boolean,
            COLUMN_TIMESTAMP: lambda: DateTime(timezone=True), COLUMN_JSON: lambda: Json}
    if f.column_type == COLUMN_STRING:
        return Column(f.column, Text() if f.type == TEXT else String(f.limit))
    return Column(f.column, kind[f.column_type]())


pings = Table(
    "pings", telemetry,
    # What the server adds: the URL's document id, project and ping type, and the arrival.
    Column("document_id", String(UUID_LENGTH), primary_key=True),  # resends are stored once
    Column("project", String(100), nullable=False),
    Column("ping_type", String(20), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("day", Date, nullable=False),  # UTC day received: the unit of aggregation
    # What the client sent, one column per stored field of the catalogue: client_id (NULL
    # for opt-out pings), versions, period, environment, metrics (validated JSON), crash
    # (the traceback scrubbed by the client, shown to the user first), dropped (by reason).
    *(_column(f) for f in stored()),
)

# One index: the hot store holds the days not sealed yet (plus a margin), read and
# deleted a day at a time by the lake (store/lake/).  Each further index, a random-order
# one above all (a UUID's), would cost every insert.
Index("ix_pings_day", pings.c.day)

projects = Table(
    "projects", telemetry,
    Column("name", String(100), primary_key=True),  # PEP 503 normalised
    Column("registered_at", DateTime(timezone=True), nullable=False),
    # What it collects: its metrics file as Declaration.to_json() (model/declarations.py),
    # and when that was last changed.  NULL: nothing declared.
    Column("declaration", Text()),
    Column("declared_at", DateTime(timezone=True)),
)

access_log = Table(
    "access_log", private,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("ip", String(45), nullable=False),  # the one piece of personal data we keep
    Column("project", String(100), nullable=False),
    Column("ping_type", String(20), nullable=False),
    Column("client_id", String(UUID_LENGTH)),
    Column("document_id", String(UUID_LENGTH), nullable=False),
    Column("network", String(45)),  # model.sources.ipv6_network(ip): NULL for IPv4
    Index("ix_access_log_received_at", "received_at"),  # retention and anomaly windows
)

# The privacy policy and the public notices (public/notices.py reads them, admin/notices.py
# writes them): nothing here is about a user; every row is published.

policy_versions = Table(
    "policy_versions", telemetry,
    Column("version", Integer, primary_key=True, autoincrement=False),  # 1: the seed policy
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("summary", Text(), nullable=False),
    Column("material", Boolean, nullable=False),  # users are told of a material change
    Column("text", Text(), nullable=False),  # Markdown
    Column("sha256", String(64), nullable=False),
    sqlalchemy.CheckConstraint("version >= 1", name="policy_versions_from_one"),
)

notices = Table(
    "notices", telemetry,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("kind", String(20), sqlalchemy.CheckConstraint(
        f"kind IN ({', '.join(repr(k) for k in NOTICE_KINDS)})"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("body", Text(), nullable=False),  # Markdown
    Column("posted_at", DateTime(timezone=True), nullable=False),
    # Never edited: a correction is a new notice naming the one it corrects.
    Column("corrects", BigInteger().with_variant(Integer, "sqlite"), sqlalchemy.ForeignKey("notices.id")),
)

legal_requests = Table(
    "legal_requests", telemetry,
    Column("quarter", String(6), primary_key=True),  # 2026Q4
    Column("received", Integer, nullable=False),
    Column("complied_in_part", Integer, nullable=False),
    Column("complied_in_full", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    # Requests the operator may not disclose, published as a range (NULL: none to report).
    Column("undisclosed_low", Integer),
    Column("undisclosed_high", Integer),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
