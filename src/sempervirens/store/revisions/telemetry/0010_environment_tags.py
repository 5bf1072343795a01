"""The environment tags: five optional string columns of the pings.

Revision 0010 of the telemetry store.  scheduler, container, notebook, install_method
and ci_provider hold what a client detected ('none' when it looked and found
nothing); NULL for pings of clients that do not report them.  Adding nullable
columns rewrites no row, on SQLite or PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COLUMNS = ("scheduler", "container", "notebook", "install_method", "ci_provider")


def _string(length=None):
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("pings") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, _string(128)))


def downgrade() -> None:
    raise NotImplementedError("stores are only migrated forward (docs/operations.md)")
