"""Pings and projects (runner's 0001_pings_and_projects).

The tables as they were when the step shipped (eb83adc): strings in the
database's collation (0007 makes them "C"), pings indexed by (day, project)
(0003 replaces the index).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    op.create_table(
        "pings",
        sa.Column("document_id", sa.String(36), primary_key=True),
        sa.Column("project", sa.String(100), nullable=False),
        sa.Column("ping_type", sa.String(20), nullable=False),
        sa.Column("client_id", sa.String(36)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("project_version", sa.String(128)),
        sa.Column("library_name", sa.String(128)),
        sa.Column("library_version", sa.String(128)),
        sa.Column("period_start", sa.DateTime(timezone=True)),
        sa.Column("period_end", sa.DateTime(timezone=True)),
        sa.Column("os", sa.String(128)),
        sa.Column("os_version", sa.String(128)),
        sa.Column("arch", sa.String(128)),
        sa.Column("python_implementation", sa.String(128)),
        sa.Column("python_version", sa.String(128)),
        sa.Column("cpu_count", sa.Integer),
        sa.Column("memory_total", sa.BigInteger),
        sa.Column("is_ci", sa.Boolean),
        sa.Column("platform_tag", sa.String(128)),
        sa.Column("metrics", json),
        sa.Column("crash_type", sa.String(256)),
        sa.Column("crash_traceback", sa.Text),
        sa.Column("dropped", json),
    )
    op.create_index("ix_pings_day_project", "pings", ["day", "project"])
    op.create_table(
        "projects",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("stores are only migrated forward (docs/operations.md)")
