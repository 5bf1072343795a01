"""The release model: declared projects, released statistics and their ledger.

Revision 0008 of the telemetry store, after 0007.

- projects.declaration, projects.declared_at: what a project collects (its metrics file);
- public_releases (the budget ledger) and public_statistics (every released number);
- gone: the k-suppressed public tables, the incremental engine's rollups, 30-day
  bitmaps and day records (the lake and the engine replace them; nothing public is
  re-derived from them: the new releases start with the periods not yet released),
  and the pings' aggregation index (the hot store is read a day at a time).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

STATISTICS = ("installs", "feature_users", "feature_events", "timing_users", "crash_users",
              "crash_events", "opt_outs", "timing_percentile")
INTERVALS = ("day", "week", "month")
GONE = ("public_active_installs", "public_feature_usage", "public_timings", "public_crashes",
        "public_opt_outs", "public_parameters", "aggregate_days", "rollup_clients",
        "rollup_parts", "rollup_cells", "rollup_periods", "rollup_opt_outs", "client_days_seen")


def _string(length=None):
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _text():
    return sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def _json():
    return sa.JSON().with_variant(JSONB(), "postgresql")


def _id():
    return sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _one_of(column: str, values) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})")


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("declaration", _text()))
        batch.add_column(sa.Column("declared_at", sa.DateTime(timezone=True)))
    for table in GONE:
        op.drop_table(table)
    op.drop_index("ix_pings_day_client_report", table_name="pings")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS pings_day_project_client")
    op.create_index("ix_pings_day", "pings", ["day"])
    op.create_table(
        "public_releases",
        sa.Column("release_id", _id(), primary_key=True, autoincrement=True),
        sa.Column("project", _string(100), nullable=False),
        sa.Column("interval", _string(5), _one_of("interval", INTERVALS), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("epsilon", sa.Float, nullable=False),
        sa.Column("delta", sa.Float, nullable=False),
        sa.Column("mechanism", _text(), nullable=False),
        sa.Column("bounds", _json(), nullable=False),
        sa.Column("statistics", _json(), nullable=False),
        sa.Column("correction_of", _id(), sa.ForeignKey("public_releases.release_id")),
        sa.UniqueConstraint("project", "interval", "period_start", "version",
                            name="public_releases_once"),
    )
    op.create_table(
        "public_statistics",
        sa.Column("release_id", _id(), sa.ForeignKey("public_releases.release_id"),
                  nullable=False),
        sa.Column("project", _string(100), nullable=False),
        sa.Column("interval", _string(5), _one_of("interval", INTERVALS), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("statistic", _string(32), _one_of("statistic", STATISTICS), nullable=False),
        sa.Column("key1", _string(200), nullable=False),
        sa.Column("key2", _string(200), nullable=False),
        sa.Column("value", sa.BigInteger),
        sa.Column("noise_sd", sa.Float),
        sa.Column("low", sa.BigInteger),
        sa.Column("high", sa.BigInteger),
        sa.Column("noisy", sa.BigInteger),
        sa.UniqueConstraint("release_id", "statistic", "key1", "key2",
                            name="public_statistics_key"),
    )
    op.create_index("public_statistics_lookup", "public_statistics",
                    ["project", "interval", "period_start", "statistic"])


def downgrade() -> None:
    raise NotImplementedError("stores are only migrated forward (docs/operations.md)")
