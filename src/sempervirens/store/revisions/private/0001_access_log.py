"""The access log (runner's 0001_access_log).

As eb83adc made it: strings in the database's collation (0004 makes them "C").
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(45), nullable=False),
        sa.Column("project", sa.String(100), nullable=False),
        sa.Column("ping_type", sa.String(20), nullable=False),
        sa.Column("client_id", sa.String(36)),
        sa.Column("document_id", sa.String(36), nullable=False),
    )
    op.create_index("ix_access_log_received_at", "access_log", ["received_at"])


def downgrade() -> None:
    raise NotImplementedError("stores are only migrated forward (docs/operations.md)")
