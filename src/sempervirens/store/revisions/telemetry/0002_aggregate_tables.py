"""The public tables and the aggregation's own (runner's 0002_aggregate_tables).

As they were when the step shipped (d12cf81), with the comment of
public_active_installs.installs as 0b5527d reworded it: the hand-written runner
created the tables from the code of the day and never migrated comments.
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
        "public_active_installs",
        *_period(),
        sa.Column("breakdown", sa.String(16), nullable=False,
                  comment="'' for the total, else 'version', 'os', 'arch', 'python' or 'ci'"),
        sa.Column("value", sa.String(128), nullable=False,
                  comment="the breakdown's value ('' for the total; 'true'/'false' for ci; "
                          "'(other)' for folded small parts; '(unknown)' when not reported)"),
        sa.Column("installs", sa.BigInteger, nullable=False,
                  comment="distinct installations (client UUIDs) active in the period; a client "
                          "that reported several values in a period counts once, under its "
                          "greatest report (greatest version, then os, arch, python, ci), so the "
                          "parts of a breakdown add up to its total"),
        sa.PrimaryKeyConstraint("project", "interval", "period_start", "breakdown", "value"),
        comment="Active installations per project and period, total and by breakdown.",
    )
    op.create_table(
        "public_feature_usage",
        *_period(),
        sa.Column("metric", sa.String(128), nullable=False,
                  comment="counter or labeled-counter name"),
        sa.Column("label", sa.String(64), nullable=False,
                  comment="'' for a plain counter; the label of a labeled counter, or '(other)'"),
        sa.Column("events", sa.BigInteger, nullable=False,
                  comment="sum of the counter over all pings"),
        sa.Column("users", sa.BigInteger, nullable=False,
                  comment="distinct installations that counted it"),
        sa.PrimaryKeyConstraint("project", "interval", "period_start", "metric", "label"),
        comment="Feature usage: events and distinct users per counter and label.",
    )
    op.create_table(
        "public_timings",
        *_period(),
        sa.Column("metric", sa.String(128), nullable=False, comment="timing distribution name"),
        sa.Column("p50_us", sa.Float, nullable=False,
                  comment="median duration in microseconds (geometric middle of its log bucket)"),
        sa.Column("p90_us", sa.Float, nullable=False, comment="90th percentile, microseconds"),
        sa.Column("p99_us", sa.Float, nullable=False, comment="99th percentile, microseconds"),
        sa.Column("samples", sa.BigInteger, nullable=False, comment="durations recorded"),
        sa.Column("users", sa.BigInteger, nullable=False,
                  comment="distinct installations that recorded it"),
        sa.PrimaryKeyConstraint("project", "interval", "period_start", "metric"),
        comment="Timing distributions: percentiles of the merged log-scale histograms.",
    )
    op.create_table(
        "public_crashes",
        *_period(),
        sa.Column("exception_type", sa.String(256), nullable=False,
                  comment="exception type name, or '(other)' for folded small cells"),
        sa.Column("version", sa.String(128), nullable=False,
                  comment="project version, '(other)' for folded cells, "
                          "'(unknown)' if not reported"),
        sa.Column("crashes", sa.BigInteger, nullable=False, comment="crash reports received"),
        sa.Column("users", sa.BigInteger, nullable=False,
                  comment="distinct installations that crashed"),
        sa.PrimaryKeyConstraint("project", "interval", "period_start", "exception_type", "version"),
        comment="Crash reports by exception type and project version.",
    )
    op.create_table(
        "public_opt_outs",
        *_period(),
        sa.Column("opt_outs", sa.BigInteger, nullable=False,
                  comment="opt-out events received "
                          "(an opt-out ping carries no UUID: one per opt-out)"),
        sa.Column("active", sa.BigInteger, nullable=False,
                  comment="active installations in the period"),
        sa.Column("ratio", sa.Float, nullable=False, comment="opt_outs / (opt_outs + active)"),
        sa.PrimaryKeyConstraint("project", "interval", "period_start"),
        comment="Opt-out events and the opt-out ratio.",
    )
    op.create_table(
        "public_parameters",
        sa.Column("name", sa.String(64), primary_key=True,
                  comment="'k', 'dp_epsilon', 'dp_delta', 'dp_mechanism', 'dp_scope', "
                          "'aggregated_through', 'updated_at'"),
        sa.Column("value", sa.Text, nullable=False,
                  comment="the value, as text ('' when not in force)"),
        sa.Column("description", sa.Text, nullable=False, comment="what it means, for readers"),
        comment="The privacy parameters in force for the public tables, and their freshness.",
    )
    op.create_table(
        "aggregate_days",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("pings", sa.BigInteger, nullable=False),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("aggregated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "aggregate_exclusions",
        sa.Column("document_id", sa.String(36), primary_key=True),
        sa.Column("day", sa.Date, nullable=False),
    )
    op.create_index("ix_aggregate_exclusions_day", "aggregate_exclusions", ["day"])


def downgrade() -> None:
    raise NotImplementedError("stores are only migrated forward (docs/operations.md)")
