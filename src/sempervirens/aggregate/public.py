"""Public rollups: SQL inside the telemetry store, one range of whole periods at a time.

For one interval and a range [lo, hi) of whole periods, every public_* row of those
periods is deleted and recomputed in one transaction, so a rerun gives the same
rows (idempotent) and readers never see a half-done period.  Pings listed in
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


def aggregate_range(connection: Connection, d: Dialect, interval: str, lo: date, hi: date,
                    k: int, dp=None) -> None:
    """Recompute the public rows of `interval` for the periods starting in [lo, hi)."""
    params = {"lo": d.date(lo), "hi": d.date(hi), "k": k, "interval": interval}
    ps = d.period_start(interval, "p.day")
    where = ("p.day >= :lo AND p.day < :hi AND NOT EXISTS "
             "(SELECT 1 FROM aggregate_exclusions x WHERE x.document_id = p.document_id)")

    def run(sql: str, **extra) -> None:
        connection.execute(text(sql), {**params, **extra})

    for table in tables.PERIOD_TABLES:
        run(f'DELETE FROM {table.name} WHERE "interval" = :interval '
            "AND period_start >= :lo AND period_start < :hi")
    _drop_temp(connection)

    # One row per client and period, with the one value it counts under per breakdown.
    run(d.temp_table("agg_clients", f"""
        SELECT p.project, {ps} AS period_start, p.client_id,
               max(p.project_version) AS version, max(p.os) AS os, max(p.arch) AS arch,
               max({d.minor_version('p.python_version')}) AS python,
               {d.bool_text(d.any_true('p.is_ci'))} AS ci
        FROM pings p
        WHERE {where} AND p.client_id IS NOT NULL AND p.ping_type IN ('usage', 'crash')
        GROUP BY p.project, {ps}, p.client_id"""))
    _active_installs(connection, run, d, interval, k, dp)
    _feature_usage(run, d, ps, where)
    _timings(run, d, ps, where)
    _crashes(run, d, ps, where)
    # Under DP the active count is the noisy published total, not the exact one.
    active = ("SELECT project, period_start, installs AS n FROM public_active_installs "
              "WHERE \"interval\" = :interval AND breakdown = '' "
              "AND period_start >= :lo AND period_start < :hi" if dp is not None else
              "SELECT project, period_start, count(*) AS n FROM agg_clients "
              "GROUP BY project, period_start")
    run(f"""
        INSERT INTO public_opt_outs (project, "interval", period_start, opt_outs, active, ratio)
        SELECT o.project, :interval, o.period_start, o.n, a.n, o.n * 1.0 / (o.n + a.n)
        FROM (SELECT p.project, {ps} AS period_start, count(*) AS n FROM pings p
              WHERE {where} AND p.ping_type = 'opt-out' GROUP BY p.project, {ps}) o
        JOIN ({active}) a
          ON a.project = o.project AND a.period_start = o.period_start
        WHERE o.n >= :k AND a.n >= :k""")
    _drop_temp(connection)


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


def _feature_usage(run, d: Dialect, ps: str, where: str) -> None:
    selects = []
    for source in (d.counters(), d.labeled_counters()):
        join, metric, label, n = source
        selects.append(f"SELECT p.project, {ps} AS period_start, p.client_id, {metric} AS metric, "
                       f"{label} AS label, {n} AS n FROM pings p {join} "
                       f"WHERE {where} AND p.client_id IS NOT NULL")
    run(d.temp_table("agg_features", f"""
        SELECT project, period_start, client_id, metric, label, sum(n) AS events
        FROM ({' UNION ALL '.join(selects)}) u
        GROUP BY project, period_start, client_id, metric, label"""))
    run("""INSERT INTO public_feature_usage
               (project, "interval", period_start, metric, label, events, users)
           SELECT project, :interval, period_start, metric, label, sum(events), count(*)
           FROM agg_features GROUP BY project, period_start, metric, label
           HAVING count(*) >= :k""")
    # Small labels of a labeled counter: one OTHER label over their union of clients.
    run(f"""INSERT INTO public_feature_usage
                (project, "interval", period_start, metric, label, events, users)
            SELECT f.project, :interval, f.period_start, f.metric, '{OTHER}',
                   sum(f.events), count(DISTINCT f.client_id)
            FROM agg_features f
            JOIN (SELECT project, period_start, metric, label FROM agg_features
                  WHERE label <> '' GROUP BY project, period_start, metric, label
                  HAVING count(*) < :k) s
              ON s.project = f.project AND s.period_start = f.period_start
             AND s.metric = f.metric AND s.label = f.label
            GROUP BY f.project, f.period_start, f.metric
            HAVING count(DISTINCT f.client_id) >= :k""")


def _timings(run, d: Dialect, ps: str, where: str) -> None:
    join, metric, bucket, n = d.timing_buckets()
    run(d.temp_table("agg_timings", f"""
        SELECT p.project, {ps} AS period_start, p.client_id, {metric} AS metric,
               {bucket} AS bucket, {n} AS n
        FROM pings p {join} WHERE {where} AND p.client_id IS NOT NULL"""))
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


def _crashes(run, d: Dialect, ps: str, where: str) -> None:
    run(d.temp_table("agg_crashes", f"""
        SELECT p.project, {ps} AS period_start, p.client_id,
               coalesce(p.crash_type, '{UNKNOWN}') AS exception_type,
               coalesce(p.project_version, '{UNKNOWN}') AS version, count(*) AS crashes
        FROM pings p WHERE {where} AND p.ping_type = 'crash' AND p.client_id IS NOT NULL
        GROUP BY p.project, {ps}, p.client_id, coalesce(p.crash_type, '{UNKNOWN}'),
                 coalesce(p.project_version, '{UNKNOWN}')"""))
    keys = "project, period_start, exception_type, version"
    run(f"""INSERT INTO public_crashes
                (project, "interval", period_start, exception_type, version, crashes, users)
            SELECT project, :interval, period_start, exception_type, version, sum(crashes), count(*)
            FROM agg_crashes GROUP BY {keys} HAVING count(*) >= :k""")
    run(f"""INSERT INTO public_crashes
                (project, "interval", period_start, exception_type, version, crashes, users)
            SELECT c.project, :interval, c.period_start, '{OTHER}', '{OTHER}',
                   sum(c.crashes), count(DISTINCT c.client_id)
            FROM agg_crashes c
            JOIN (SELECT {keys} FROM agg_crashes GROUP BY {keys} HAVING count(*) < :k) s
              ON s.project = c.project AND s.period_start = c.period_start
             AND s.exception_type = c.exception_type AND s.version = c.version
            GROUP BY c.project, c.period_start
            HAVING count(DISTINCT c.client_id) >= :k""")


def _drop_temp(connection: Connection) -> None:
    for name in ("agg_clients", "agg_parts", "agg_features", "agg_timings", "agg_crashes"):
        connection.execute(text(f"DROP TABLE IF EXISTS {name}"))
