"""A client's cells as a set of cell numbers; rollup_parts (runner's 0005_rollup_cell_sets).

rollup_clients.cells and rollup_cells.cell instead of rollup_members, rollup_parts
instead of rollup_profiles, as the step's last version (a9a8dd5) made them.

rollup_members (a row per cell and client) and rollup_profiles go.  The rollups
are derived data: the open periods are marked pruned, so the next cycle rebuilds
them.  rollup_cells carries ix_rollup_cells_number, which c61d626 added to the
table before the next step shipped.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _period_key() -> list[sa.Column]:
    return [sa.Column("interval", sa.String(5), nullable=False),
            sa.Column("period_start", sa.Date, nullable=False),
            sa.Column("project", sa.String(100), nullable=False)]


def upgrade() -> None:
    for name in ("rollup_members", "rollup_profiles", "rollup_clients", "rollup_cells"):
        op.execute(f"DROP TABLE IF EXISTS {name}")
    op.create_table(
        "rollup_clients", *_period_key(),
        sa.Column("client_id", sa.String(36), nullable=False),
        *(sa.Column(name, sa.String(128), nullable=False)
          for name in ("version", "os", "arch", "python")),
        sa.Column("ci", sa.String(9), nullable=False),
        sa.Column("cells", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("interval", "period_start", "project", "client_id"),
    )
    op.create_table(
        "rollup_cells", *_period_key(),
        sa.Column("kind", sa.String(7), nullable=False),
        sa.Column("a", sa.String(256), nullable=False),
        sa.Column("b", sa.String(128), nullable=False),
        sa.Column("cell", sa.Integer, nullable=False),
        sa.Column("users", sa.BigInteger, nullable=False),
        sa.Column("total", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("interval", "period_start", "project", "kind", "a", "b"),
    )
    op.create_index("ix_rollup_cells_number", "rollup_cells",
                    ["interval", "period_start", "project", "cell"])
    if not sa.inspect(op.get_bind()).has_table("rollup_parts"):
        op.create_table(
            "rollup_parts", *_period_key(),
            sa.Column("breakdown", sa.String(16), nullable=False),
            sa.Column("value", sa.String(128), nullable=False),
            sa.Column("clients", sa.BigInteger, nullable=False),
            sa.PrimaryKeyConstraint("interval", "period_start", "project", "breakdown", "value"),
        )
    op.execute("UPDATE rollup_periods SET pruned = true")


def downgrade() -> None:
    raise NotImplementedError("stores are only migrated forward (docs/operations.md)")
