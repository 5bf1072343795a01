"""Public rollups: SQL inside the telemetry store, one range of whole periods at a time.

The pings of the days to redo are read once into per-client, per-day temporary
tables (build_base); then, for each interval and range [lo, hi) of whole periods,
every public_* row of those periods is deleted and recomputed from them.  All of it
is one transaction, so a rerun gives the same rows (idempotent) and readers never
see a half-done period.  Pings listed in
aggregate_exclusions (anomalies) are left out.  Suppression is applied in the same
statements (suppress.py); differential privacy, when on, replaces the exact
active-install counts by noisy ones (dp.py).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, text

from . import tables
from ._sql import Dialect
from .suppress import fold_partition
from .tables import OTHER, UNKNOWN

# 2 ** ((b + 0.5) / 4): the geometric middle of timing bucket b (BUCKETS_PER_DOUBLING = 4).
_BUCKET_US = """bucket_us(b, us) AS (
    SELECT 0, 1.0905077326652577
    UNION ALL SELECT b + 1, us * 1.189207115002721 FROM bucket_us WHERE b < 200)"""

_BREAKDOWNS = {  # breakdown -> column of agg_clients
    "version": "version", "os": "os", "arch": "arch", "python": "python", "ci": "ci",
}


def build_base(connection: Connection, d: Dialect, lo: date, hi: date) -> None:
    """Per client and day, what the rollups need, from the pings of [lo, hi).

    The pings (and their JSON metrics) are read here once per base table; every
    interval's rollup then groups these much smaller tables.  They are temporary:
    they live in this transaction's connection only.
    """
    _tune(connection, d)
    _drop_temp(connection, _BASE)
    build_clients(connection, d, lo, hi)
    _build_metrics(connection, d, lo, hi)
    if d.pg:
        for name in _BASE[1:]:
            connection.execute(text(f"ANALYZE {name}"))


def _where(d: Dialect) -> tuple[str, str]:
    where = ("p.day >= :lo AND p.day < :hi AND NOT EXISTS "
             "(SELECT 1 FROM aggregate_exclusions x WHERE x.document_id = p.document_id)")
    return where, f"{where} AND p.client_id IS NOT NULL"


def build_clients(connection: Connection, d: Dialect, lo: date, hi: date) -> None:
    """base_clients: one row per project, day and client (no JSON is read for it)."""
    _, with_client = _where(d)
    connection.execute(text(d.temp_table("base_clients", f"""
        SELECT p.project, p.day, p.client_id,
               max(p.project_version) AS version, max(p.os) AS os, max(p.arch) AS arch,
               max({d.minor_version('p.python_version')}) AS python,
               max({d.bool_text('p.is_ci')}) AS ci
        FROM pings p WHERE {with_client} AND p.ping_type IN ('usage', 'crash')
        GROUP BY p.project, p.day, p.client_id""")), {"lo": d.date(lo), "hi": d.date(hi)})
    if d.pg:  # the planner knows nothing of a fresh temporary table
        connection.execute(text("ANALYZE base_clients"))


def _build_metrics(connection: Connection, d: Dialect, lo: date, hi: date) -> None:
    """The base tables read from the JSON metrics, crashes and opt-outs."""
    params = {"lo": d.date(lo), "hi": d.date(hi)}
    where, with_client = _where(d)

    def run(sql: str) -> None:
        connection.execute(text(sql), params)

    selects = []
    for join, metric, label, n in (d.counters(), d.labeled_counters()):
        selects.append(f"SELECT p.project, p.day, p.client_id, {metric} AS metric, "
                       f"{label} AS label, {n} AS n FROM pings p {join} WHERE {with_client}")
    run(d.temp_table("base_features", f"""
        SELECT project, day, client_id, metric, label, sum(n) AS events
        FROM ({' UNION ALL '.join(selects)}) u
        GROUP BY project, day, client_id, metric, label"""))
    join, metric, bucket, n = d.timing_buckets()
    run(d.temp_table("base_timings", f"""
        SELECT p.project, p.day, p.client_id, {metric} AS metric, {bucket} AS bucket,
               sum({n}) AS n
        FROM pings p {join} WHERE {with_client}
        GROUP BY p.project, p.day, p.client_id, {metric}, {bucket}"""))
    run(d.temp_table("base_crashes", f"""
        SELECT p.project, p.day, p.client_id,
               coalesce(p.crash_type, '{UNKNOWN}') AS exception_type,
               coalesce(p.project_version, '{UNKNOWN}') AS version, count(*) AS crashes
        FROM pings p WHERE {with_client} AND p.ping_type = 'crash'
        GROUP BY p.project, p.day, p.client_id, coalesce(p.crash_type, '{UNKNOWN}'),
                 coalesce(p.project_version, '{UNKNOWN}')"""))
    run(d.temp_table("base_opt_outs", f"""
        SELECT p.project, p.day, count(*) AS n FROM pings p
        WHERE {where} AND p.ping_type = 'opt-out' GROUP BY p.project, p.day"""))


def daily_active_installs(connection: Connection, d: Dialect, lo: date, hi: date,
                          k: int) -> None:
    """Only public_active_installs, interval day, for the days of [lo, hi).

    The same statements as the full pipeline's (base_clients, then the day rollup
    with its suppression), without the other tables and intervals: what the
    benchmark times against its reference.  Leaves base_clients behind.
    """
    _tune(connection, d)
    _drop_temp(connection, _BASE)
    build_clients(connection, d, lo, hi)
    params = {"lo": d.date(lo), "hi": d.date(hi), "k": k, "interval": "day"}

    def run(sql: str, **extra) -> None:
        connection.execute(text(sql), {**params, **extra})

    run('DELETE FROM public_active_installs WHERE "interval" = :interval '
        "AND period_start >= :lo AND period_start < :hi")
    _drop_temp(connection, _PERIOD)
    _period_clients(connection, run, d, "day", lo, hi)
    _active_installs(connection, run, d, "day", k, None)
    _drop_temp(connection, _PERIOD)


def drop_base(connection: Connection) -> None:
    _drop_temp(connection, _BASE)


def aggregate_range(connection: Connection, d: Dialect, interval: str, lo: date, hi: date,
                    k: int, dp=None) -> None:
    """Recompute the public rows of `interval` for the periods starting in [lo, hi).

    Reads the base tables of build_base(), which must cover [lo, hi).
    """
    params = {"lo": d.date(lo), "hi": d.date(hi), "k": k, "interval": interval}
    ps = d.period_start(interval, "day")
    where = "day >= :lo AND day < :hi"

    def run(sql: str, **extra) -> None:
        connection.execute(text(sql), {**params, **extra})

    for table in tables.PERIOD_TABLES:
        run(f'DELETE FROM {table.name} WHERE "interval" = :interval '
            "AND period_start >= :lo AND period_start < :hi")
    _drop_temp(connection, _PERIOD)

    _period_clients(connection, run, d, interval, lo, hi)
    _active_installs(connection, run, d, interval, k, dp)
    _rollup(connection, run, d, "agg_features", "base_features", interval, lo, hi,
            ["metric", "label"], [("sum(events)", "events")])
    _feature_usage(run)
    _rollup(connection, run, d, "agg_timings", "base_timings", interval, lo, hi,
            ["metric", "bucket"], [("sum(n)", "n")])
    _timings(run)
    _rollup(connection, run, d, "agg_crashes", "base_crashes", interval, lo, hi,
            ["exception_type", "version"], [("sum(crashes)", "crashes")])
    _crashes(run)
    # Under DP the active count is the noisy published total, not the exact one.
    active = ("SELECT project, period_start, installs AS n FROM public_active_installs "
              "WHERE \"interval\" = :interval AND breakdown = '' "
              "AND period_start >= :lo AND period_start < :hi" if dp is not None else
              "SELECT project, period_start, count(*) AS n FROM agg_clients "
              "GROUP BY project, period_start")
    run(f"""
        INSERT INTO public_opt_outs (project, "interval", period_start, opt_outs, active, ratio)
        SELECT o.project, :interval, o.period_start, o.n, a.n, o.n * 1.0 / (o.n + a.n)
        FROM (SELECT project, {ps} AS period_start, sum(n) AS n FROM base_opt_outs
              WHERE {where} GROUP BY project, {ps}) o
        JOIN ({active}) a
          ON a.project = o.project AND a.period_start = o.period_start
        WHERE o.n >= :k AND a.n >= :k""")
    _drop_temp(connection, _PERIOD)


def _period_clients(connection, run, d: Dialect, interval: str, lo: date, hi: date) -> None:
    """agg_clients: one row per client and period, with the one value it counts
    under per breakdown."""
    _rollup(connection, run, d, "agg_clients", "base_clients", interval, lo, hi, [],
            [(f"max({c})", c) for c in ("version", "os", "arch", "python", "ci")])


def _rollup(connection, run, d: Dialect, name: str, base: str, interval: str, lo: date,
            hi: date, keys: list[str], values: list[tuple[str, str]]) -> None:
    """`name`: the rows of `base` (one per project, day, client and keys) of [lo, hi),
    rolled up per period of `interval`.

    A day's rows already are one per client and day: for interval day, `name` is a
    view of `base` (no regrouping, no copy).  Else a temporary table.
    """
    columns = ", ".join(["project", "client_id", *keys])
    if interval == "day":
        _temp_views(connection).add(name)
        connection.execute(text(
            f"CREATE TEMPORARY VIEW {name} AS SELECT project, day AS period_start, client_id"
            f"{''.join(', ' + c for c in keys)}{''.join(', ' + a for _, a in values)} "
            f"FROM {base} WHERE day >= {d.date_literal(lo)} AND day < {d.date_literal(hi)}"))
        return
    ps = d.period_start(interval, "day")
    run(d.temp_table(name, f"""
        SELECT project, {ps} AS period_start, client_id{''.join(', ' + c for c in keys)},
               {', '.join(f'{e} AS {a}' for e, a in values)}
        FROM {base} WHERE day >= :lo AND day < :hi GROUP BY {ps}, {columns}"""))


def _active_installs(connection, run, d: Dialect, interval: str, k: int, dp) -> None:
    parts = " UNION ALL ".join(
        f"SELECT project, period_start, '{name}' AS breakdown, "
        f"coalesce({column}, '{UNKNOWN}') AS value, count(*) AS n "
        f"FROM agg_clients GROUP BY project, period_start, coalesce({column}, '{UNKNOWN}')"
        for name, column in _BREAKDOWNS.items())
    total = ("SELECT project, period_start, '' AS breakdown, '' AS value, count(*) AS n "
             "FROM agg_clients GROUP BY project, period_start")
    run(d.temp_table("agg_parts", f"{total} UNION ALL {parts}"))
    if dp is not None:  # noise first, then the same suppression, in dp.py
        dp.release_installs(connection, d, interval, k)
        return
    run("""INSERT INTO public_active_installs
               (project, "interval", period_start, breakdown, value, installs)
           SELECT project, :interval, period_start, '', '', n FROM agg_parts
           WHERE breakdown = '' AND n >= :k""")
    folded = fold_partition("(SELECT * FROM agg_parts WHERE breakdown <> '') parts",
                            "project, period_start, breakdown")
    run(f"""INSERT INTO public_active_installs
                (project, "interval", period_start, breakdown, value, installs)
            SELECT project, :interval, period_start, breakdown, value, n FROM ({folded}) f""")


def _feature_usage(run) -> None:
    run("""INSERT INTO public_feature_usage
               (project, "interval", period_start, metric, label, events, users)
           SELECT project, :interval, period_start, metric, label, sum(events), count(*)
           FROM agg_features GROUP BY project, period_start, metric, label
           HAVING count(*) >= :k""")
    # Small labels of a labeled counter: one OTHER label over their union of clients.
    # A window (one row per client and label, so count(*) is the label's users)
    # rather than a join, which SQLite would run as a nested loop.
    run(f"""INSERT INTO public_feature_usage
                (project, "interval", period_start, metric, label, events, users)
            SELECT project, :interval, period_start, metric, '{OTHER}',
                   sum(events), count(DISTINCT client_id)
            FROM (SELECT project, period_start, metric, client_id, events,
                         count(*) OVER (PARTITION BY project, period_start, metric, label) AS cell
                  FROM agg_features WHERE label <> '') labels
            WHERE cell < :k
            GROUP BY project, period_start, metric
            HAVING count(DISTINCT client_id) >= :k""")


def _timings(run) -> None:
    run(f"""INSERT INTO public_timings
                (project, "interval", period_start, metric, p50_us, p90_us, p99_us, samples, users)
            WITH RECURSIVE {_BUCKET_US},
            hist AS (SELECT project, period_start, metric, bucket, sum(n) AS n FROM agg_timings
                     GROUP BY project, period_start, metric, bucket),
            cumulative AS (
                SELECT project, period_start, metric, bucket,
                       sum(n) OVER (PARTITION BY project, period_start, metric ORDER BY bucket) AS cum,
                       sum(n) OVER (PARTITION BY project, period_start, metric) AS total
                FROM hist),
            pct AS (
                SELECT project, period_start, metric, total,
                       min(CASE WHEN cum >= 0.50 * total THEN bucket END) AS b50,
                       min(CASE WHEN cum >= 0.90 * total THEN bucket END) AS b90,
                       min(CASE WHEN cum >= 0.99 * total THEN bucket END) AS b99
                FROM cumulative GROUP BY project, period_start, metric, total),
            users AS (SELECT project, period_start, metric, count(DISTINCT client_id) AS users
                      FROM agg_timings GROUP BY project, period_start, metric)
            SELECT pct.project, :interval, pct.period_start, pct.metric,
                   u50.us, u90.us, u99.us, pct.total, users.users
            FROM pct
            JOIN users ON users.project = pct.project AND users.period_start = pct.period_start
                      AND users.metric = pct.metric
            JOIN bucket_us u50 ON u50.b = pct.b50
            JOIN bucket_us u90 ON u90.b = pct.b90
            JOIN bucket_us u99 ON u99.b = pct.b99
            WHERE users.users >= :k AND pct.total > 0""")


def _crashes(run) -> None:
    keys = "project, period_start, exception_type, version"
    run(f"""INSERT INTO public_crashes
                (project, "interval", period_start, exception_type, version, crashes, users)
            SELECT project, :interval, period_start, exception_type, version, sum(crashes), count(*)
            FROM agg_crashes GROUP BY {keys} HAVING count(*) >= :k""")
    run(f"""INSERT INTO public_crashes
                (project, "interval", period_start, exception_type, version, crashes, users)
            SELECT project, :interval, period_start, '{OTHER}', '{OTHER}',
                   sum(crashes), count(DISTINCT client_id)
            FROM (SELECT project, period_start, client_id, crashes,
                         count(*) OVER (PARTITION BY {keys}) AS cell
                  FROM agg_crashes) cells
            WHERE cell < :k
            GROUP BY project, period_start
            HAVING count(DISTINCT client_id) >= :k""")


def _tune(connection: Connection, d: Dialect) -> None:
    """Memory for this transaction's sorts and hashes: the default 4 MB spills to disk."""
    if d.pg:  # and no JIT: its compile time outweighs its gain on these one-off queries
        connection.execute(text("SET LOCAL work_mem = '256MB'"))
        connection.execute(text("SET LOCAL jit = off"))
    else:
        connection.execute(text("PRAGMA temp_store = MEMORY"))
        connection.execute(text("PRAGMA cache_size = -262144"))  # KiB: 256 MB


_BASE = ("base_clients", "base_features", "base_timings", "base_crashes", "base_opt_outs")
_PERIOD = ("agg_clients", "agg_parts", "agg_features", "agg_timings", "agg_crashes")


def _drop_temp(connection: Connection, names: tuple[str, ...]) -> None:
    for name in names:
        views = _temp_views(connection)
        kind = "VIEW" if name in views else "TABLE"
        views.discard(name)
        connection.execute(text(f"DROP {kind} IF EXISTS {name}"))


def _temp_views(connection: Connection) -> set[str]:
    """The names of _PERIOD that are views just now, on this database connection."""
    return connection.info.setdefault("sempervirens_temp_views", set())
