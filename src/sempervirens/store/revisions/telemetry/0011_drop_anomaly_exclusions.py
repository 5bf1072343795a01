"""Drop aggregate_exclusions: the public numbers no longer leave anomalies out.

Revision 0011 of the telemetry store.  The table held the document ids of the pings of
anomalous addresses, for sealing to mark them in the lake and the engine to leave them
out.  Whether an address is crowded depends on other installations, so leaving its pings
out let one installation decide whether N - 1 others were counted (docs/privacy.md):
public numbers count them, and the private aggregates leave anomalies out from the
private store's own `anomalies` table.
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_aggregate_exclusions_day", table_name="aggregate_exclusions")
    op.drop_table("aggregate_exclusions")


def downgrade() -> None:
    raise NotImplementedError("stores are only migrated forward (docs/operations.md)")
