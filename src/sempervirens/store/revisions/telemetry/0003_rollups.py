"""Rollups kept between cycles, the pings' index in client order (runner's 0003_rollups).

The index as the step shipped it (dea996d); the rollup tables as they stood when
the next step that changed them (0005) shipped: the hand-written runner created
them from the code of the day, and 0005 expects rollup_periods.pruned (856e9ed)
and the members' tables of 8366419.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _period_key() -> list[sa.Column]:
    return [sa.Column("interval", sa.String(5), nullable=False),
            sa.Column("period_start", sa.Date, nullable=False),
            sa.Column("project", sa.String(100), nullable=False)]


def _breakdowns() -> list[sa.Column]:
    return [*(sa.Column(name, sa.String(128), nullable=False)
              for name in ("version", "os", "arch", "python")),
            sa.Column("ci", sa.String(9), nullable=False)]


def upgrade() -> None:
    bind = op.get_bind()
    op.execute("DROP INDEX IF EXISTS ix_pings_day_project")
    if "ix_pings_day_client" not in {i["name"] for i in sa.inspect(bind).get_indexes("pings")}:
        op.create_index("ix_pings_day_client", "pings", ["day", "project", "client_id"],
                        postgresql_include=["ping_type", "project_version", "os", "arch",
                                            "python_version", "is_ci"])
    if bind.dialect.name == "postgresql":
        # Tells the planner how many (day, project, client) groups there are, so it
        # streams them from the index instead of hashing millions in memory.
        op.execute("CREATE STATISTICS IF NOT EXISTS pings_day_project_client "
                   "(ndistinct) ON day, project, client_id FROM pings")
    op.create_table(
        "rollup_clients", *_period_key(),
        sa.Column("client_id", sa.String(36), nullable=False),
        *_breakdowns(),
        sa.PrimaryKeyConstraint("interval", "period_start", "project", "client_id"),
    )
    op.create_table(
        "rollup_profiles", *_period_key(),
        *_breakdowns(),
        sa.Column("clients", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("interval", "period_start", "project", "version", "os", "arch",
                                "python", "ci"),
    )
    op.create_table(
        "rollup_members", *_period_key(),
        sa.Column("kind", sa.String(7), nullable=False),
        sa.Column("a", sa.String(256), nullable=False),
        sa.Column("b", sa.String(128), nullable=False),
        sa.Column("client_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("interval", "period_start", "project", "kind", "a", "b",
                                "client_id"),
    )
    op.create_table(
        "rollup_cells", *_period_key(),
        sa.Column("kind", sa.String(7), nullable=False),
        sa.Column("a", sa.String(256), nullable=False),
        sa.Column("b", sa.String(128), nullable=False),
        sa.Column("users", sa.BigInteger, nullable=False),
        sa.Column("total", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("interval", "period_start", "project", "kind", "a", "b"),
    )
    op.create_table(
        "rollup_periods",
        sa.Column("interval", sa.String(5), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("merged_through", sa.Date, nullable=False),
        sa.Column("pruned", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("interval", "period_start"),
    )
    op.create_table(
        "rollup_opt_outs",
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("project", sa.String(100), nullable=False),
        sa.Column("opt_outs", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("day", "project"),
    )
    op.create_table(
        "client_days_seen",
        sa.Column("project", sa.String(100), nullable=False),
        sa.Column("client_id", sa.String(36), nullable=False),
        sa.Column("last_day", sa.Date, nullable=False),
        sa.Column("days", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("project", "client_id"),
    )


def downgrade() -> None:
    raise NotImplementedError("stores are only migrated forward (docs/operations.md)")
