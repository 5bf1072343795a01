"""PostgreSQL: room on the bitmaps' pages for each day's updates (runner's 0006_bitmaps_fillfactor).

fillfactor 70 lets a client's daily update of client_days_seen stay on its page
(a HOT update); CLUSTER rewrites the pages there are, in key order.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE client_days_seen SET (fillfactor = 70)")
        op.execute("CLUSTER client_days_seen USING client_days_seen_pkey")


def downgrade() -> None:
    raise NotImplementedError("stores are only migrated forward (docs/operations.md)")
