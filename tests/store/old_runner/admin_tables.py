"""Tables of the admin layer.  All live in the private store: tokens grant access
to private data, the audit log names who read it, and tombstones are about users
who asked to be forgotten.
"""

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, Table

from .schema import String, Text, private

TOKEN_ID_LENGTH = 12

api_tokens = Table(
    "api_tokens", private,
    Column("id", String(TOKEN_ID_LENGTH), primary_key=True),  # public part of the token, hex
    Column("hash", String(64), nullable=False),  # sha256 of the whole token, hex; never the token
    Column("role", String(16), nullable=False),  # 'admin' or 'maintainer'
    Column("project", String(100)),  # a maintainer's project (PEP 503); NULL for admins
    Column("holder", String(200), nullable=False),  # who it was given to, for the audit log
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),  # NULL: never
    Column("revoked_at", DateTime(timezone=True)),
)

audit_log = Table(
    "audit_log", private,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("month", String(7), nullable=False),  # 'YYYY-MM' (UTC): the public summary groups by it
    Column("token_id", String(TOKEN_ID_LENGTH)),  # NULL for a command run on the server
    Column("holder", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(64), nullable=False),  # what was read: 'institutions', 'export', ...
    Column("project", String(100)),
    Column("category", String(32), nullable=False),  # purpose category, published per month
    Column("purpose", Text()),  # the free text given with it: admins only, never published
    Index("ix_audit_log_month", "month"),
)

tombstones = Table(
    "tombstones", private,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    # HMAC-SHA256 of a deleted client_id under the server's secret key, hex: pings
    # for it are dropped, yet the table alone cannot tell whether a UUID is in it.
    Column("hash", String(64), nullable=False, unique=True),
    Column("month", String(7), nullable=False),  # when, to the month: for the public summary
)

PRIVATE_TABLES = (api_tokens, audit_log, tombstones)
