"""The engine's query definitions: DuckDB SQL generated from the catalogue.

Each query reads the views every runner registers (`pings`, `counters`, `timings`
from the lake, Hive column `day` as DATE; `periods` (period_start, day): every day
of the periods computed; `declared` (project, kind, name, label): every project's
`Declaration.rows()`) and returns rows

    (project, period_start, key1, key2, n1[, n2])

with the counts of one or two statistics of model.statistics (`Query.statistics`)
of the same cells: one scan and one GROUP BY for both.  The CASE expressions of the
breakdowns come from model.domains; the contribution bounds (model.statistics.Bounds)
are written in as integer literals.  The SQL keeps to the subset DuckDB and Spark
share (joins, GROUP BY, window functions, CASE, REGEXP_EXTRACT), so that the Spark
runner transpiles it mechanically with SQLGlot; there is no second copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...model.domains import BREAKDOWNS, MAJOR_MINOR_PATTERN, OTHER, TOTAL, UNKNOWN, Breakdown
from ...model.limits import BUCKETS_PER_DOUBLING, MAX_BUCKET
from ...model.statistics import BY_NAME, Bounds


@dataclass(frozen=True)
class Query:
    name: str
    statistics: tuple[str, ...]  # its rows' columns after the keys, one per statistic
    sql: str  # DuckDB dialect


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _strings(values) -> str:
    return ", ".join(_literal(v) for v in values)


# '\.' is written '[.]': the same regular expression, with no backslash for the
# dialects to disagree about in string literals (Spark unescapes them).
_PATTERN = _literal(MAJOR_MINOR_PATTERN.replace("\\.", "[.]"))
assert "\\" not in _PATTERN


def major_minor_sql(column: str) -> str:
    """major.minor of a version string, '' when it has none (as re.match in domains)."""
    return f"REGEXP_EXTRACT({column}, {_PATTERN}, 1)"


def ascii_lower_sql(column: str) -> str:
    """LOWER of an ASCII value, NULL of any other (as domains.public_value): every
    spelling is ASCII, and LOWER folds other letters too, not alike in every engine
    (DuckDB makes 'İ' an 'i', Java an 'i' and a combining dot).  Bytes equal to
    characters is the cheapest test of ASCII both engines have."""
    return (f"CASE WHEN OCTET_LENGTH(ENCODE({column})) = LENGTH({column}) "
            f"THEN LOWER({column}) END")


def breakdown_sql(breakdown: Breakdown, column: str) -> str:
    """The public value of a reported field: domains.public_value as a CASE expression
    (not for 'version', whose domain is per project: see `_version_sql`)."""
    unknown = f"WHEN {column} IS NULL THEN {_literal(UNKNOWN)}"
    if breakdown.kind == "boolean":
        return f"CASE {unknown} WHEN {column} THEN 'true' ELSE 'false' END"
    if breakdown.kind == "spellings":
        lowered = ascii_lower_sql(column)
        whens = " ".join(f"WHEN {lowered} IN ({_strings(spellings)}) THEN {_literal(value)}"
                         for value, spellings in breakdown.values)
        return f"CASE {unknown} {whens} ELSE {_literal(OTHER)} END"
    if breakdown.kind == "major_minor" and breakdown.values:
        domain = _strings(value for value, _ in breakdown.values)
        mm = major_minor_sql(column)
        return f"CASE {unknown} WHEN {mm} IN ({domain}) THEN {mm} ELSE {_literal(OTHER)} END"
    raise ValueError(f"no SQL mapping for breakdown {breakdown.name!r}")


# The project's version: its major.minor, kept as is when the project declared no
# versions, else one of the declared ones or OTHER; UNKNOWN when not reported.
# Reads `version_mm` (major_minor_sql of the field) and two joined CTEs.
_VERSION_CTES = """
declared_versions AS (
  SELECT DISTINCT project, name AS version FROM declared WHERE kind = 'version'
),
versioned_projects AS (
  SELECT DISTINCT project FROM declared WHERE kind = 'version'
)"""


def _version_sql(row: str, field: str) -> str:
    return (f"CASE WHEN {row}.{field} IS NULL THEN {_literal(UNKNOWN)} "
            f"WHEN {row}.version_mm = '' THEN {_literal(OTHER)} "
            f"WHEN vp.project IS NULL THEN {row}.version_mm "
            f"WHEN dv.version IS NOT NULL THEN {row}.version_mm "
            f"ELSE {_literal(OTHER)} END")


def _version_joins(row: str) -> str:
    return (f"LEFT JOIN versioned_projects AS vp ON vp.project = {row}.project "
            f"LEFT JOIN declared_versions AS dv ON dv.project = {row}.project "
            f"AND dv.version = {row}.version_mm")


def _kept(alias: str, ping_type: str) -> str:
    """The pings a statistic reads: of its type, from an installation.

    Those of anomalous addresses too (aggregate/anomalies.py): whether an address is
    crowded depends on how many *other* installations used it, so leaving its pings out
    would let one installation decide whether N - 1 others are counted."""
    return f"{alias}.ping_type = {_literal(ping_type)} AND {alias}.client_id IS NOT NULL"


def _in_periods(alias: str) -> str:
    return f"JOIN periods AS pr ON CAST({alias}.day AS DATE) = pr.day"


def _ranks(breakdown: Breakdown, value_sql: str) -> tuple[str, str]:
    """SQL turning a fixed-domain public value into its rank in the sorted domain, and
    back: MAX over ranks is MAX over the values, and far cheaper than over strings."""
    domain = sorted(breakdown.public_values)
    to_rank = " ".join(f"WHEN {_literal(v)} THEN {i}" for i, v in enumerate(domain))
    return f"CASE {value_sql} {to_rank} END", \
        " ".join(f"WHEN {i} THEN {_literal(v)}" for i, v in enumerate(domain))


def installs() -> Query:
    """Each installation once per period in the total, and once per breakdown under the
    greatest public value of its reports (MAX: the same in every engine)."""
    fields = [b for b in BREAKDOWNS if b.name != "version"]
    # Breakdown names as quoted identifiers: a name may be a keyword (INSTALL in DuckDB).
    q = {b.name: f'"{b.name}"' for b in BREAKDOWNS}
    ranks = {b.name: _ranks(b, breakdown_sql(b, "p." + b.field)) for b in fields}
    mapped = ",\n    ".join(f"{ranks[b.name][0]} AS {q[b.name]}" for b in fields)
    greatest = ", ".join(f"MAX({q[b.name]}) AS {q[b.name]}" for b in BREAKDOWNS)
    # One row per installation and breakdown (the total included), one GROUP BY.
    names = ", ".join(f"({_literal(name)})" for name in (TOTAL, *(b.name for b in BREAKDOWNS)))
    value = " ".join(f"WHEN {_literal(b.name)} THEN CASE i.{q[b.name]} {ranks[b.name][1]} END"
                     for b in fields)
    sql = f"""
WITH usage_pings AS (
  SELECT pr.period_start, p.project, p.client_id, p.project_version,
    {major_minor_sql('p.project_version')} AS version_mm,
    {mapped}
  FROM pings AS p {_in_periods('p')}
  WHERE {_kept('p', 'usage')}
),{_VERSION_CTES},
mapped AS (
  SELECT u.period_start, u.project, u.client_id,
    {_version_sql('u', 'project_version')} AS version,
    {', '.join('u.' + q[b.name] for b in fields)}
  FROM usage_pings AS u {_version_joins('u')}
),
installations AS (
  SELECT period_start, project, client_id, {greatest}
  FROM mapped GROUP BY period_start, project, client_id
)
SELECT i.project, i.period_start, b.name AS key1,
  CASE b.name WHEN 'version' THEN i.version {value} ELSE {_literal(TOTAL)} END AS key2,
  COUNT(*) AS installs
FROM installations AS i CROSS JOIN (VALUES {names}) AS b(name)
GROUP BY i.project, i.period_start, b.name, key2
"""
    return Query("installs", ("installs",), sql)


def _clamped_cells(keys: tuple[str, str], events: str, bound: int, one_day: bool) -> str:
    """CTE `cells` from `mapped`: each installation's events per cell, clamped to `bound`
    per day, then summed over the period's days (a single GROUP BY when it is a day).

    `events` must not overflow a BIGINT before it is clamped: Spark's SUM of BIGINT is a
    BIGINT (an error under ANSI mode, else it wraps), DuckDB's a HUGEINT.  Counter values
    are clamped row by row first (the same result: they are positive)."""
    k1, k2 = keys
    cell = f"period_start, project, client_id, {k1}, {k2}"
    daily = (f"SELECT {cell}, LEAST({events}, {int(bound)}) AS events FROM mapped "
             f"GROUP BY {cell}" + ("" if one_day else ", day"))
    if one_day:
        return f"cells AS ({daily})"
    return (f"daily AS ({daily}),\n"
            f"cells AS (SELECT {cell}, SUM(events) AS events FROM daily GROUP BY {cell})")


def _capped(cells: str, keys: tuple[str, str], bound: int) -> str:
    """CTE `kept`: of each installation's cells in a period, the `bound` with the most
    (bounded) events, ties broken by the keys: the same choice in every engine.  Only
    the installations with more cells than that are ranked: usually few, and a GROUP BY
    and two joins cost far less than a window over every cell."""
    k1, k2 = keys
    installation = ("x.period_start = c.period_start AND x.project = c.project "
                    "AND x.client_id = c.client_id")
    return f"""
crowded AS (
  SELECT period_start, project, client_id FROM {cells}
  GROUP BY period_start, project, client_id HAVING COUNT(*) > {int(bound)}
),
ranked AS (
  SELECT c.period_start, c.project, c.client_id, c.{k1}, c.{k2}, c.events,
    ROW_NUMBER() OVER (PARTITION BY c.period_start, c.project, c.client_id
                       ORDER BY c.events DESC, c.{k1}, c.{k2}) AS cell_rank
  FROM {cells} AS c SEMI JOIN crowded AS x ON {installation}
),
kept AS (
  SELECT c.period_start, c.project, c.client_id, c.{k1}, c.{k2}, c.events
  FROM {cells} AS c ANTI JOIN crowded AS x ON {installation}
  UNION ALL
  SELECT period_start, project, client_id, {k1}, {k2}, events FROM ranked
  WHERE cell_rank <= {int(bound)}
)"""


def _tally(keys: tuple[str, str], users: str, events: str | None) -> str:
    """Per cell: the installations counted in it, and their (bounded) events."""
    k1, k2 = keys
    total = f", CAST(SUM(events) AS BIGINT) AS {events}" if events else ""
    return (f"SELECT project, period_start, {k1} AS key1, {k2} AS key2, COUNT(*) AS {users}"
            f"{total} FROM kept GROUP BY project, period_start, {k1}, {k2}")


def features(bounds: Bounds, with_events: bool, one_day: bool) -> Query:
    """Declared counters and labels (other labels of a declared labeled counter become
    OTHER); events summed per installation, cell and day, then clamped."""
    sql = f"""
WITH declared_metrics AS (
  SELECT DISTINCT project, name, kind FROM declared
  WHERE kind IN ('counter', 'labeled_counter')
),
declared_labels AS (
  SELECT DISTINCT project, name, label FROM declared WHERE kind = 'labeled_counter'
),
mapped AS (
  SELECT pr.period_start, c.project, c.client_id, pr.day, c.metric,
    CASE WHEN dm.kind = 'counter' THEN '' WHEN dl.label IS NULL THEN {_literal(OTHER)}
         ELSE c.label END AS label,
    c.value
  FROM counters AS c {_in_periods('c')}
  JOIN declared_metrics AS dm ON dm.project = c.project AND dm.name = c.metric
    AND (dm.kind = 'counter') = (COALESCE(c.label, '') = '')
  LEFT JOIN declared_labels AS dl ON dl.project = c.project AND dl.name = c.metric
    AND dl.label = c.label
  WHERE {_kept('c', 'usage')} AND c.value > 0
),
{_clamped_cells(('metric', 'label'), f'SUM(LEAST(value, {int(bounds.max_events_per_day)}))',
                bounds.max_events_per_day, one_day)},
{_capped('cells', ('metric', 'label'), bounds.max_features)}
{_tally(('metric', 'label'), 'feature_users', 'feature_events' if with_events else None)}
"""
    return Query("features", ("feature_users",) + (("feature_events",) if with_events else ()),
                 sql)


def timings(bounds: Bounds) -> Query:
    """Per installation and declared timing, its histogram merged over the period, its
    median bucket (the smallest where the running count reaches half the samples),
    published by the lower bound in microseconds of its doubling: 2 ** (bucket // 4).

    The histogram is merged by doubling before the running count: the median's
    doubling is the doubling of the median bucket (the running count is monotone), and
    the rows the window sorts are fewer.  Samples are summed as DECIMAL(38, 0): one
    installation's (each bucket at most 2**53 - 1) pass 2**63 in 1,025 pings, and
    `2 * below` 2**63 in 513; Spark's BIGINT arithmetic would fail or wrap there.

    Only the protocol's buckets, 0..MAX_BUCKET, are read (the validator refuses any
    other; a lake row with one is damaged): 2 ** (252 // 4) is past a BIGINT, which
    DuckDB refuses and Spark turns into 2**63 - 1; a negative bucket's 2 ** -1 is no
    integer; a NULL one would publish a NULL key."""
    sql = f"""
WITH declared_timings AS (
  SELECT DISTINCT project, name FROM declared WHERE kind = 'timing'
),
merged AS (
  SELECT pr.period_start, t.project, t.client_id, t.metric,
    CAST(FLOOR(t.bucket / {BUCKETS_PER_DOUBLING}) AS INTEGER) AS doubling,
    SUM(CAST(t."count" AS DECIMAL(38, 0))) AS samples
  FROM timings AS t {_in_periods('t')}
  JOIN declared_timings AS dt ON dt.project = t.project AND dt.name = t.metric
  WHERE {_kept('t', 'usage')} AND t."count" > 0
    AND t.bucket BETWEEN 0 AND {int(MAX_BUCKET)}
  GROUP BY pr.period_start, t.project, t.client_id, t.metric,
    CAST(FLOOR(t.bucket / {BUCKETS_PER_DOUBLING}) AS INTEGER)
),
running AS (
  SELECT period_start, project, client_id, metric, doubling,
    SUM(samples) OVER (PARTITION BY period_start, project, client_id, metric ORDER BY doubling
                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS below,
    SUM(samples) OVER (PARTITION BY period_start, project, client_id, metric) AS total
  FROM merged
),
medians AS (
  SELECT period_start, project, client_id, metric, MIN(doubling) AS median_doubling,
    MAX(total) AS events
  FROM running WHERE 2 * below >= total
  GROUP BY period_start, project, client_id, metric
),
public_buckets AS (
  SELECT period_start, project, client_id, metric, events,
    CAST(CAST(POWER(2, median_doubling) AS BIGINT) AS VARCHAR) AS bucket
  FROM medians
),{_capped('public_buckets', ('metric', 'bucket'), bounds.max_timings)}
{_tally(('metric', 'bucket'), 'timing_users', None)}
"""
    return Query("timings", ("timing_users",), sql)


def crashes(bounds: Bounds, with_events: bool, one_day: bool) -> Query:
    """Crash reports by (kind, version): a declared kind or OTHER (UNKNOWN when the
    ping has none), the ping's version mapped as for installs; reports counted per
    installation, cell and day, then clamped."""
    sql = f"""
WITH crash_pings AS (
  SELECT pr.period_start, p.project, p.client_id, pr.day, p.crash_type, p.project_version,
    {major_minor_sql('p.project_version')} AS version_mm
  FROM pings AS p {_in_periods('p')}
  WHERE {_kept('p', 'crash')}
),{_VERSION_CTES},
declared_kinds AS (
  SELECT DISTINCT project, name FROM declared WHERE kind = 'crash'
),
mapped AS (
  SELECT cp.period_start, cp.project, cp.client_id, cp.day,
    CASE WHEN cp.crash_type IS NULL THEN {_literal(UNKNOWN)}
         WHEN dk.name IS NOT NULL THEN cp.crash_type ELSE {_literal(OTHER)} END AS kind,
    {_version_sql('cp', 'project_version')} AS version
  FROM crash_pings AS cp {_version_joins('cp')}
  LEFT JOIN declared_kinds AS dk ON dk.project = cp.project AND dk.name = cp.crash_type
),
{_clamped_cells(('kind', 'version'), 'COUNT(*)', bounds.max_crashes_per_day, one_day)},
{_capped('cells', ('kind', 'version'), bounds.max_crash_cells)}
{_tally(('kind', 'version'), 'crash_users', 'crash_events' if with_events else None)}
"""
    return Query("crashes", ("crash_users",) + (("crash_events",) if with_events else ()), sql)


def opt_outs() -> Query:
    """Opt-out pings per project and day (they carry no installation id)."""
    sql = f"""
SELECT p.project, pr.period_start, '' AS key1, '' AS key2, COUNT(*) AS opt_outs
FROM pings AS p {_in_periods('p')}
WHERE p.ping_type = 'opt-out'
GROUP BY p.project, pr.period_start
"""
    return Query("opt_outs", ("opt_outs",), sql)


def queries(interval: str, bounds: Bounds) -> tuple[Query, ...]:
    """The queries computing every statistic released on `interval`."""
    def released(name: str) -> bool:
        return interval in BY_NAME[name].intervals

    one_day = interval == "day"
    chosen = [installs(), features(bounds, released("feature_events"), one_day),
              timings(bounds), crashes(bounds, released("crash_events"), one_day)]
    if released("opt_outs"):
        chosen.append(opt_outs())
    return tuple(chosen)
