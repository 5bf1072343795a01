"""Tables of the aggregation layer, on the two stores' MetaData.

Public tables are named `public_*` and live in the telemetry store: the public
site, API and dataset exports read those and nothing else.  Every row of a public
table describes at least `k` distinct clients (see suppress.py), holds counts only
(no client_id, no IP) and, when differential privacy is on, noisy counts (dp.py).

Common columns of the public tables:
- project: the project's normalised name (PEP 503).
- interval: 'day', 'week' (ISO week, starting on Monday) or 'month' (UTC); in
  public_active_installs also '30d', the rolling 30-day windows of recent.py.
- period_start: the first UTC day of the period.

A part of a breakdown that describes fewer than k clients is folded into the value
OTHER ('(other)'); a missing value (the client did not report it) is UNKNOWN.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
)

from .schema import UUID_LENGTH, String, Text, private, telemetry

OTHER = "(other)"  # the folded parts of a breakdown; itself at least k clients
UNKNOWN = "(unknown)"  # the client did not report this field
INTERVALS = ("day", "week", "month")
BREAKDOWNS = ("", "version", "os", "arch", "python", "ci")  # '' is the total


def _period() -> list[Column]:
    return [
        Column("project", String(100), nullable=False, comment="project name (PEP 503)"),
        Column("interval", String(5), nullable=False, comment="'day', 'week' (ISO, Monday) or 'month'"),
        Column("period_start", Date, nullable=False, comment="first UTC day of the period"),
    ]


# -- public tables (telemetry store) ----------------------------------------------

public_active_installs = Table(
    "public_active_installs", telemetry,
    *_period(),
    Column("breakdown", String(16), nullable=False,
           comment="'' for the total, else 'version', 'os', 'arch', 'python' or 'ci'"),
    Column("value", String(128), nullable=False,
           comment="the breakdown's value ('' for the total; 'true'/'false' for ci; "
                   "'(other)' for folded small parts; '(unknown)' when not reported)"),
    Column("installs", BigInteger, nullable=False,
           comment="distinct installations (client UUIDs) active in the period; a client that "
                   "reported several values in a period counts once, under its greatest report "
                   "(greatest version, then os, arch, python, ci), so the parts of a breakdown "
                   "add up to its total"),
    PrimaryKeyConstraint("project", "interval", "period_start", "breakdown", "value"),
    comment="Active installations per project and period, total and by breakdown.",
)

public_feature_usage = Table(
    "public_feature_usage", telemetry,
    *_period(),
    Column("metric", String(128), nullable=False, comment="counter or labeled-counter name"),
    Column("label", String(64), nullable=False,
           comment="'' for a plain counter; the label of a labeled counter, or '(other)'"),
    Column("events", BigInteger, nullable=False, comment="sum of the counter over all pings"),
    Column("users", BigInteger, nullable=False, comment="distinct installations that counted it"),
    PrimaryKeyConstraint("project", "interval", "period_start", "metric", "label"),
    comment="Feature usage: events and distinct users per counter and label.",
)

public_timings = Table(
    "public_timings", telemetry,
    *_period(),
    Column("metric", String(128), nullable=False, comment="timing distribution name"),
    Column("p50_us", Float, nullable=False,
           comment="median duration in microseconds (geometric middle of its log bucket)"),
    Column("p90_us", Float, nullable=False, comment="90th percentile, microseconds"),
    Column("p99_us", Float, nullable=False, comment="99th percentile, microseconds"),
    Column("samples", BigInteger, nullable=False, comment="durations recorded"),
    Column("users", BigInteger, nullable=False, comment="distinct installations that recorded it"),
    PrimaryKeyConstraint("project", "interval", "period_start", "metric"),
    comment="Timing distributions: percentiles of the merged log-scale histograms.",
)

public_crashes = Table(
    "public_crashes", telemetry,
    *_period(),
    Column("exception_type", String(256), nullable=False,
           comment="exception type name, or '(other)' for folded small cells"),
    Column("version", String(128), nullable=False,
           comment="project version, '(other)' for folded cells, '(unknown)' if not reported"),
    Column("crashes", BigInteger, nullable=False, comment="crash reports received"),
    Column("users", BigInteger, nullable=False, comment="distinct installations that crashed"),
    PrimaryKeyConstraint("project", "interval", "period_start", "exception_type", "version"),
    comment="Crash reports by exception type and project version.",
)

public_opt_outs = Table(
    "public_opt_outs", telemetry,
    *_period(),
    Column("opt_outs", BigInteger, nullable=False,
           comment="opt-out events received (an opt-out ping carries no UUID: one per opt-out)"),
    Column("active", BigInteger, nullable=False, comment="active installations in the period"),
    Column("ratio", Float, nullable=False, comment="opt_outs / (opt_outs + active)"),
    PrimaryKeyConstraint("project", "interval", "period_start"),
    comment="Opt-out events and the opt-out ratio.",
)

public_parameters = Table(
    "public_parameters", telemetry,
    Column("name", String(64), primary_key=True,
           comment="'k', 'dp_epsilon', 'dp_delta', 'dp_mechanism', 'dp_scope', "
                   "'aggregated_through', 'updated_at'"),
    Column("value", Text(), nullable=False, comment="the value, as text ('' when not in force)"),
    Column("description", Text(), nullable=False, comment="what it means, for readers"),
    comment="The privacy parameters in force for the public tables, and their freshness.",
)

PUBLIC_TABLES = (public_active_installs, public_feature_usage, public_timings,
                 public_crashes, public_opt_outs, public_parameters)
PERIOD_TABLES = PUBLIC_TABLES[:-1]

# -- internal tables of the telemetry store (not public) ------------------------

aggregated_days = Table(
    "aggregate_days", telemetry,
    Column("day", Date, primary_key=True),
    Column("pings", BigInteger, nullable=False),  # how many the day held when aggregated
    Column("complete", Boolean, nullable=False),  # the day was over: never redone
    Column("aggregated_at", DateTime(timezone=True), nullable=False),
)

anomaly_exclusions = Table(
    "aggregate_exclusions", telemetry,
    Column("document_id", String(UUID_LENGTH), primary_key=True),  # a ping left out of public counts
    Column("day", Date, nullable=False),
    Index("ix_aggregate_exclusions_day", "day"),
)

# -- private store ----------------------------------------------------------------

ip_origins = Table(
    "ip_origins", private,
    Column("ip", String(45), primary_key=True),
    Column("hostname", String(255)),
    Column("domain", String(255)),
    Column("institution", String(255)),
    Column("kind", String(10), nullable=False),  # academic / other / unknown
    Column("enriched_at", DateTime(timezone=True), nullable=False),
)

anomalies = Table(
    "anomalies", private,
    Column("project", String(100), nullable=False),
    Column("day", Date, nullable=False),  # the window: one UTC day
    Column("ip_hash", String(64), nullable=False),  # HMAC-SHA256 of the IP, hex
    Column("ip", String(45)),  # kept only for the retention period, then NULL
    Column("clients", BigInteger, nullable=False),
    Column("pings", BigInteger, nullable=False),
    Column("detected_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("project", "day", "ip_hash"),
)

private_institution_users = Table(
    "private_institution_users", private,
    *_period(),
    Column("institution", String(255), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("users", BigInteger, nullable=False),  # distinct clients (no UUID kept)
    PrimaryKeyConstraint("project", "interval", "period_start", "institution", "kind"),
)

private_origin_summary = Table(
    "private_origin_summary", private,
    *_period(),
    Column("users", BigInteger, nullable=False),  # distinct clients in all
    Column("academic", BigInteger, nullable=False),
    Column("other", BigInteger, nullable=False),
    Column("unknown", BigInteger, nullable=False),
    Column("edu", BigInteger, nullable=False),  # registered domain under .edu
    PrimaryKeyConstraint("project", "interval", "period_start"),
)

private_aggregated_days = Table(
    "aggregate_private_days", private,
    Column("day", Date, primary_key=True),
    Column("rows", BigInteger, nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("aggregated_at", DateTime(timezone=True), nullable=False),
)

secrets = Table(
    "aggregate_secrets", private,
    Column("name", String(64), primary_key=True),
    Column("value", String(128), nullable=False),  # hex
)

# Weeks and months are kept between cycles (rollups.py) so that a finished day is
# merged in, at a day's cost: who was counted in each period, and in which cells
# (with a pseudonymous client_id, like pings; a deletion request removes a client's
# rows here too, as from every table with a client_id), and the running counts of
# each public cell.  Internal, not public.
def _period_key() -> list[Column]:
    return [Column("interval", String(5), nullable=False),  # 'week' or 'month'
            Column("period_start", Date, nullable=False),
            Column("project", String(100), nullable=False)]


rollup_clients = Table(  # one row per active client and period
    "rollup_clients", telemetry, *_period_key(),
    Column("client_id", String(UUID_LENGTH), nullable=False),
    # The breakdowns of its greatest report in the period (as public_active_installs
    # counts it), UNKNOWN for a value not reported.
    *(Column(name, String(128), nullable=False) for name in ("version", "os", "arch", "python")),
    Column("ci", String(9), nullable=False),
    # The cells it is counted in: their numbers (rollup_cells.cell), comma-separated
    # and comma-wrapped (',3,17,'), so that one row per client holds what a row per
    # (cell, client) would, at a fraction of the index writes.
    Column("cells", Text(), nullable=False),
    PrimaryKeyConstraint("interval", "period_start", "project", "client_id"),
)

rollup_parts = Table(  # active clients per value of each breakdown, as base_parts per day
    "rollup_parts", telemetry, *_period_key(),
    Column("breakdown", String(16), nullable=False),  # 'version', 'os', 'arch', 'python', 'ci'
    Column("value", String(128), nullable=False),
    Column("clients", BigInteger, nullable=False),
    PrimaryKeyConstraint("interval", "period_start", "project", "breakdown", "value"),
)

# A cell: kind 'feature' (a = metric, b = label), 'timing' (a = metric, b = ''),
# 'bucket' (a = metric, b = the bucket number; no members) or 'crash'
# (a = exception type, b = version).
rollup_cells = Table(
    "rollup_cells", telemetry, *_period_key(),
    Column("kind", String(7), nullable=False),
    Column("a", String(256), nullable=False),
    Column("b", String(128), nullable=False),
    Column("cell", Integer, nullable=False),  # its number in rollup_clients.cells (0: a bucket)
    Column("users", BigInteger, nullable=False),  # the clients counted in it
    Column("total", BigInteger, nullable=False),  # events, samples or crashes
    PrimaryKeyConstraint("interval", "period_start", "project", "kind", "a", "b"),
    # A client's cell numbers are looked up here (public._period_views, agg_members).
    Index("ix_rollup_cells_number", "interval", "period_start", "project", "cell"),
)

rollup_periods = Table(
    "rollup_periods", telemetry,
    Column("interval", String(5), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("merged_through", Date, nullable=False),  # the last day merged into its rollups
    Column("pruned", Boolean, nullable=False),  # its rows are gone (ended): merging rebuilds it
    PrimaryKeyConstraint("interval", "period_start"),
)

rollup_opt_outs = Table(  # opt-out pings carry no client_id: a count per day is all there is
    "rollup_opt_outs", telemetry,
    Column("day", Date, nullable=False),
    Column("project", String(100), nullable=False),
    Column("opt_outs", BigInteger, nullable=False),
    PrimaryKeyConstraint("day", "project"),
)

# Which of the last 62 days each client was active on, for the rolling 30-day
# windows (recent.py): bit i of `days` is set if it was active on last_day - i.
# Each active client's row is updated every day: room left on each page (PostgreSQL)
# lets the new version stay on it (a HOT update, no index entry): half the time.
BITMAPS_FILLFACTOR = 70
client_days_seen = Table(
    "client_days_seen", telemetry,
    Column("project", String(100), nullable=False),
    Column("client_id", String(UUID_LENGTH), nullable=False),
    Column("last_day", Date, nullable=False),
    Column("days", BigInteger, nullable=False),
    PrimaryKeyConstraint("project", "client_id"),
    postgresql_with={"fillfactor": BITMAPS_FILLFACTOR},
)

ROLLUP_TABLES = (rollup_clients, rollup_parts, rollup_cells,
                 rollup_periods, rollup_opt_outs, client_days_seen)
TELEMETRY_TABLES = (*PUBLIC_TABLES, aggregated_days, anomaly_exclusions)
PRIVATE_TABLES = (ip_origins, anomalies, private_institution_users, private_origin_summary,
                  private_aggregated_days, secrets)
