"""${message}

Revision ${up_revision} of the ${config.get_main_option("track")} store, after ${down_revision | comma,n}.
Created ${create_date}.
"""
# Frozen once shipped: never edit it, never import the tables of today's code
# (store/schema.py, aggregate/tables.py, admin/tables.py); spell the DDL out
# (op.add_column, op.create_table, op.create_index with sa.Column literals).  A
# string column is sa.String(n) on SQLite and COLLATE "C" on PostgreSQL, as
# schema.String declares it: _string(n) below.

import sqlalchemy as sa
from alembic import op

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def _string(length=None):
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    raise NotImplementedError("stores are only migrated forward (docs/operations.md)")
