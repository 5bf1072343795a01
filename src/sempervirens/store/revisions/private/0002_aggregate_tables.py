"""The aggregation's private tables (runner's 0002_aggregate_tables).

As d12cf81 made them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _period() -> list[sa.Column]:
    return [
        sa.Column("project", sa.String(100), nullable=False, comment="project name (PEP 503)"),
        sa.Column("interval", sa.String(5), nullable=False,
                  comment="'day', 'week' (ISO, Monday) or 'month'"),
        sa.Column("period_start", sa.Date, nullable=False, comment="first UTC day of the period"),
    ]


def upgrade() -> None:
    op.create_table(
        "ip_origins",
        sa.Column("ip", sa.String(45), primary_key=True),
        sa.Column("hostname", sa.String(255)),
        sa.Column("domain", sa.String(255)),
        sa.Column("institution", sa.String(255)),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("enriched_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "anomalies",
        sa.Column("project", sa.String(100), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("ip_hash", sa.String(64), nullable=False),
        sa.Column("ip", sa.String(45)),
        sa.Column("clients", sa.BigInteger, nullable=False),
        sa.Column("pings", sa.BigInteger, nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("project", "day", "ip_hash"),
    )
    op.create_table(
        "private_institution_users",
        *_period(),
        sa.Column("institution", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("users", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("project", "interval", "period_start", "institution", "kind"),
    )
    op.create_table(
        "private_origin_summary",
        *_period(),
        sa.Column("users", sa.BigInteger, nullable=False),
        sa.Column("academic", sa.BigInteger, nullable=False),
        sa.Column("other", sa.BigInteger, nullable=False),
        sa.Column("unknown", sa.BigInteger, nullable=False),
        sa.Column("edu", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("project", "interval", "period_start"),
    )
    op.create_table(
        "aggregate_private_days",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("aggregated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "aggregate_secrets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(128), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("stores are only migrated forward (docs/operations.md)")
